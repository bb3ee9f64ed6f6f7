"""The lab: build a topology into namespaces, run its servers, apply faults, tear it all down.

    lab = lab_up()                       # the default topology (Albania, July 2022)
    lab.apply_fault(FaultSpec(kind="shutdown", target="gov", at=0, until=60))
    lab.run("tirana", ["ping", "-c1", "192.0.2.2"])
    lab.clear_fault(...)
    lab_down()                           # idempotent; removes everything named nv-*

`Lab` is the `LabHost` faults act on (`netvigil.lab.faults`): it knows no fault kind,
only how to apply a `Fault` and keep its undo record in the state file. Building the
namespaces is `netvigil.lab.wiring`; bringing a lab up and down, `netvigil.lab.lifecycle`.

The lab never touches the root namespace beyond creating namespaces: no link, route or
rule there, so nothing of the lab's addresses can leave the machine. Its state (pids,
zone data, certificates, logs, measurements) lives in `state_dir` (default
/run/nv-lab, or $NETVIGIL_LAB_DIR).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.errors import LabError
from netvigil.lab import bird, netns, routers, wiring
from netvigil.lab.config import collector_url, netvigil_config_text
from netvigil.lab.faults import ActiveFault, FaultSpec, make_fault
from netvigil.lab.pki import ServiceCerts, make_pki
from netvigil.lab.topology import Topology
from netvigil.model import Measurement, measurement_list_adapter

__all__ = ["STATE_FILE", "Lab", "default_prefix", "default_state_dir"]

STATE_FILE = "lab.json"
READY_TIMEOUT_S = 20.0
BGP_READY_TIMEOUT_S = 45.0


def default_state_dir() -> Path:
    """Where the lab keeps its state: $NETVIGIL_LAB_DIR or /run/nv-lab."""
    return Path(os.environ.get("NETVIGIL_LAB_DIR", "/run/nv-lab"))


def default_prefix() -> str:
    """How the lab's namespaces start: $NETVIGIL_LAB_PREFIX or `nv-`. Raises LabError."""
    return netns.check_prefix(os.environ.get("NETVIGIL_LAB_PREFIX", netns.PREFIX))


@dataclass
class Lab:
    """A running lab: its topology, where its state lives and the processes it started."""

    topology: Topology
    state_dir: Path
    topology_path: str | None = None
    prefix: str = netns.PREFIX
    """What the lab's namespace names start with (`nv-`, or `nv-<x>-` for a lab of its own)."""
    processes: dict[str, int] = field(default_factory=dict)
    """Process ids by key: `service:<name>`, `dns:<host>`, `flood:<id>`..."""
    active_faults: dict[str, ActiveFault] = field(default_factory=dict)
    """Each applied fault with what it changed, by fault id, so clearing undoes exactly that."""

    # --- names -----------------------------------------------------------------

    def host_ns(self, host: str) -> str:
        """The namespace of a host."""
        return wiring.host_ns(host, self.prefix)

    def router_ns(self, network: str) -> str:
        """The namespace of a network's router."""
        return wiring.router_ns(network, self.prefix)

    def namespace(self, name: str) -> str:
        """The namespace for a host name, or for a network name (its router)."""
        if any(h.name == name for h in self.topology.hosts):
            return self.host_ns(name)
        if any(n.name == name for n in self.topology.networks):
            return self.router_ns(name)
        raise LabError(f"no host or network named {name!r} in topology {self.topology.name!r}")

    def port_of(self, host: str) -> str:
        """The router-side interface of `host`'s link (in its network's router)."""
        return wiring.port_of(self.topology, host)

    def downlink_of(self, network: str) -> str:
        """The upstream router's interface towards `network`."""
        return wiring.downlink_of(self.topology, network)

    # --- paths -----------------------------------------------------------------

    @property
    def ca_file(self) -> Path:
        """The lab CA's certificate (PEM): probes pass it as `ca_file`."""
        return self.state_dir / "pki" / "ca.pem"

    @property
    def zone_file(self) -> Path:
        return self.state_dir / "zones.json"

    def certs(self, service: str) -> ServiceCerts:
        d = self.state_dir / "pki"
        return ServiceCerts(
            cert=d / f"{service}.pem",
            key=d / f"{service}.key",
            expired_cert=d / f"{service}-expired.pem",
            expired_key=d / f"{service}-expired.key",
        )

    # --- commands --------------------------------------------------------------

    def run(
        self, name: str, argv: Sequence[str], *, timeout: float = 30.0, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside a host's (or a router's) namespace and wait for it."""
        try:
            proc = subprocess.run(
                netns.exec_argv(self.namespace(name), argv),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(f"{name}: command timed out after {timeout}s: {' '.join(argv)}") from exc
        if check and proc.returncode != 0:
            raise LabError(f"{name}: {' '.join(argv)} failed: {proc.stderr.strip()}")
        return proc

    def command(self, name: str, argv: Sequence[str], *, check: bool = True) -> str:
        """Run a short command inside a host's (or a router's) namespace; its stdout.

        Raises LabError when it fails and `check` is set.
        """
        return netns.run(netns.exec_argv(self.namespace(name), argv), check=check)

    def ip(self, name: str, *args: str, check: bool = True) -> str:
        """`ip -n <namespace> ARGS`."""
        return netns.run(["ip", "-n", self.namespace(name), *args], check=check)

    def spawn(self, name: str, key: str, argv: Sequence[str]) -> int:
        """Start a long-running process inside a namespace, detached; returns its pid."""
        logs = self.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = (logs / f"{key.replace(':', '-')}.log").open("ab")
        proc = subprocess.Popen(
            netns.exec_argv(self.namespace(name), argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes[key] = proc.pid
        self.save()
        return proc.pid

    def python(self, module: str, *args: str) -> list[str]:
        """argv running a netvigil module with this interpreter."""
        return [sys.executable, "-m", module, *args]

    def stop(self, key: str, *, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop a process the lab started (SIGKILL after a grace period when `sig` is SIGTERM)."""
        pid = self.processes.pop(key, None)
        if pid is None:
            return
        if sig == signal.SIGKILL:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            netns.kill_pids([pid], grace_s=0.5)
        else:
            netns.kill_pids([pid])
        self.save()

    def signal(self, key: str, sig: signal.Signals) -> None:
        """Send a signal to a process the lab started. Raises LabError when it is not running."""
        pid = self.processes.get(key)
        if pid is None:
            raise LabError(f"no lab process {key!r} is running")
        try:
            os.kill(pid, sig)
        except ProcessLookupError as exc:
            raise LabError(f"lab process {key!r} (pid {pid}) has exited") from exc

    def has_process(self, key: str) -> bool:
        """Whether the lab holds a process under `key` (running or not)."""
        return key in self.processes

    def wait_listening(
        self, name: str, port: int, *, udp: bool = False, key: str | None = None
    ) -> None:
        """Wait until something listens on `port` inside `name`'s namespace. Raises LabError.

        With `key`, fail at once when that lab process has exited.
        """
        flags = "-Hlun" if udp else "-Hltn"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            pid = self.processes.get(key or "")
            if pid is not None and not netns.is_running(pid):
                raise LabError(
                    f"{name}: lab process {key!r} exited at start; see {self.state_dir / 'logs'}"
                )
            out = netns.run(
                ["ip", "netns", "exec", self.namespace(name), "ss", flags, f"sport = :{port}"],
                check=False,
            )
            if out.strip():
                return
            time.sleep(0.05)
        raise LabError(
            f"{name}: nothing listens on port {port} after {READY_TIMEOUT_S}s "
            f"(see the logs in {self.state_dir / 'logs'})"
        )

    # --- servers ---------------------------------------------------------------

    def start_service(self, name: str, *, wait: bool = True) -> None:
        """Start (or restart) one web service's server process."""
        svc = self.topology.service(name)
        args = [
            "--name", svc.name,
            "--keyword", svc.keyword or svc.name,
            "--port", str(svc.effective_port),
            "--workers", str(svc.workers),
            "--backlog", str(svc.backlog),
            "--work-s", str(svc.work_s),
        ]  # fmt: skip
        if svc.scheme == "https":
            c = self.certs(name)
            args += ["--cert", str(c.cert), "--key", str(c.key)]
            args += ["--expired-cert", str(c.expired_cert), "--expired-key", str(c.expired_key)]
        self.stop(f"service:{name}")
        self.spawn(svc.host, f"service:{name}", self.python("netvigil.lab.httpd", *args))
        if wait:
            self.wait_listening(svc.host, svc.effective_port, key=f"service:{svc.name}")

    def start_servers(self) -> None:
        """Start the DNS servers and every web service; wait until all of them listen."""
        topo = self.topology
        for zone_host in sorted({z.server for z in topo.zones}):
            zones = [z.name for z in topo.zones if z.server == zone_host]
            argv = ["--data", str(self.zone_file)]
            for zone in zones:
                argv += ["--authoritative", zone]
            self.spawn(zone_host, f"dns:{zone_host}", self.python("netvigil.lab.dnsd", *argv))
        for host in topo.hosts_with("resolver"):
            argv = ["--data", str(self.zone_file), "--resolver"]
            self.spawn(host.name, f"dns:{host.name}", self.python("netvigil.lab.dnsd", *argv))
        for svc in topo.services:
            self.start_service(svc.name, wait=False)
        for key in self.processes:
            kind, name = key.split(":", 1)
            if kind == "dns":
                self.wait_listening(name, 53, udp=True, key=key)
        for svc in topo.services:
            self.wait_listening(svc.host, svc.effective_port, key=f"service:{svc.name}")

    def zone_data(self) -> dict[str, Any]:
        """The DNS data every lab DNS server serves (see netvigil.lab.dnsd)."""
        topo = self.topology
        records: dict[str, dict[str, list[str]]] = {}
        for host in topo.hosts:
            if host.dns_name is None:
                continue
            entry: dict[str, list[str]] = {"A": [str(topo.host4(host.name))]}
            v6 = topo.host6(host.name)
            if v6 is not None:
                entry["AAAA"] = [str(v6)]
            records[host.dns_name.rstrip(".") + "."] = entry
        zones: dict[str, str] = {}
        for zone in topo.zones:
            server = topo.host(zone.server)
            apex = zone.name.rstrip(".") + "."
            ns_name = (server.dns_name or f"ns.{zone.name}").rstrip(".") + "."
            records.setdefault(apex, {})
            records[apex]["NS"] = [ns_name]
            records[apex]["SOA"] = [f"{ns_name} hostmaster.{apex} 1 3600 600 86400 {topo.ttl_s}"]
            zones[apex] = str(topo.host4(zone.server))
        return {"ttl": topo.ttl_s, "records": records, "zones": zones}

    # --- faults ----------------------------------------------------------------

    def apply_fault(self, spec: FaultSpec) -> str:
        """Start a fault now; returns its id. Raises LabError when the target does not fit."""
        fault = make_fault(spec)
        fault.check(self)
        if spec.fault_id in self.active_faults:
            self.clear_fault(spec.fault_id)
        record = fault.apply(self)
        self.active_faults[spec.fault_id] = ActiveFault(spec, time.time(), record)
        self.save()
        return spec.fault_id

    def clear_fault(self, fault_id: str) -> None:
        """End a fault started by `apply_fault` (idempotent; unknown ids are ignored)."""
        active = self.active_faults.pop(fault_id, None)
        if active is None:
            return
        try:
            active.undo(self)
        finally:
            self.save()

    def clear_all_faults(self) -> None:
        """End every active fault."""
        for fault_id in list(self.active_faults):
            self.clear_fault(fault_id)

    # --- routes ---------------------------------------------------------------

    def routed_prefixes(self, network: str) -> list[str]:
        """The prefixes reached through `network`'s uplink: its own and its descendants'."""
        return wiring.routed_prefixes(self.topology, network)

    def bird_socket(self, name: str) -> str:
        """The control socket of the BIRD of network `name` (`collector`: the collector's)."""
        return str(self.state_dir / "bird" / f"{name}.ctl")

    def birdc(self, network: str, *args: str, check: bool = True) -> str:
        """`birdc ARGS` on `network`'s router (`collector`: the collector). Raises LabError."""
        return bird.birdc(self.bird_socket(network), *args, check=check)

    def add_routes(self, network: str) -> None:
        """Announce `network` upstream again: its upstream brings its BGP sessions back up."""
        upstream = self.topology.network(network).upstream
        if upstream is None:
            raise LabError(f"network {network!r} is the core; it has no upstream")
        self.birdc(upstream, "enable", f'"down?_{bird.proto_name(network)}"')

    def withdraw_routes(self, network: str) -> None:
        """Withdraw `network` upstream: its upstream shuts its BGP sessions with it down,
        forgets its routes and withdraws them from everyone it announced them to."""
        upstream = self.topology.network(network).upstream
        if upstream is None:
            raise LabError(f"network {network!r} is the core; it has no upstream to withdraw from")
        self.birdc(upstream, "disable", f'"down?_{bird.proto_name(network)}"')

    def reset_queue(self, network: str) -> None:
        """Put back the plain FIFO of `network`'s shaped uplink."""
        wiring.reset_queue(self.topology, network, self.prefix)

    @property
    def collector_url(self) -> str | None:
        """The route collector's RIS Live-compatible websocket URL (None: no collector)."""
        return collector_url(self.topology)

    def start_bgp(self) -> float:
        """Start a BIRD in every router (and the collector), wait until BGP has converged,
        start the collector's feed; the seconds the wait took. Raises LabError."""
        return routers.start_bgp(self, timeout_s=BGP_READY_TIMEOUT_S)

    def wait_converged(self) -> float:
        """Wait until BGP has converged again (every session up, every route back); the
        seconds it took. Raises LabError."""
        return routers.wait_converged(self, timeout_s=BGP_READY_TIMEOUT_S)

    # --- netvigil --------------------------------------------------------------

    def netvigil_config(
        self,
        vantage: str | None = None,
        *,
        interval_s: float = 5.0,
        timeout_s: float = 3.0,
        listen: str | None = None,
    ) -> str:
        """A netvigil config (TOML text) watching every service of this lab from `vantage`;
        with `listen` (HOST:PORT) for `netvigil run` serving its API there (store
        `<state>/netvigil-<vantage>.db`)."""
        db = "netvigil.db" if listen is None else f"netvigil-{vantage or 'monitor'}.db"
        return netvigil_config_text(
            self.topology,
            vantage=vantage,
            ca_file=str(self.ca_file),
            interval_s=interval_s,
            timeout_s=timeout_s,
            store_path=str(self.state_dir / db),
            bgp_url=self.collector_url,
            listen=listen,
        )

    def write_config(
        self,
        vantage: str,
        *,
        interval_s: float = 5.0,
        timeout_s: float = 3.0,
        listen: str | None = None,
    ) -> Path:
        """Write the netvigil config for `vantage` (see `netvigil_config`) into the state
        dir; returns its path."""
        path = self.state_dir / "config" / f"{vantage}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.netvigil_config(vantage, interval_s=interval_s, timeout_s=timeout_s,
                                    listen=listen)  # fmt: skip
        path.write_text(text)
        return path

    def probe(
        self,
        vantage: str,
        *,
        targets: Sequence[str] | None = None,
        timeout_s: float = 3.0,
    ) -> list[Measurement]:
        """Probe this lab's targets once from inside `vantage`'s namespace.

        `targets` limits the run to these target names. Raises LabError when the probe
        process itself fails.
        """
        config = self.write_config(vantage, timeout_s=timeout_s)
        argv = self.python("netvigil.lab.agent", "--config", str(config), "--once")
        for name in targets or ():
            argv += ["--target", name]
        proc = self.run(vantage, argv, timeout=timeout_s * 3 + 30)
        if proc.returncode != 0:
            raise LabError(f"{vantage}: probe run failed: {proc.stderr.strip()[-2000:]}")
        rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        return measurement_list_adapter.validate_python(rows)

    # --- state -----------------------------------------------------------------

    def save(self) -> None:
        """Write the lab's state file (what `Lab.load` and `lab_down` read)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "topology": self.topology.model_dump(mode="json"),
            "topology_path": self.topology_path,
            "prefix": self.prefix,
            "processes": self.processes,
            "active_faults": {k: f.to_json() for k, f in self.active_faults.items()},
        }
        tmp = self.state_dir / f"{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state_dir / STATE_FILE)

    @classmethod
    def load(cls, state_dir: Path | None = None) -> Lab:
        """The lab running now, from its state file.

        Raises LabError when none is up, or when the state file does not fit (a fault
        kind that is not registered, say).
        """
        state_dir = state_dir or default_state_dir()
        try:
            data = json.loads((state_dir / STATE_FILE).read_text())
            topology = Topology.model_validate(data["topology"])
            processes = {k: int(v) for k, v in data.get("processes", {}).items()}
            prefix = netns.check_prefix(str(data.get("prefix", netns.PREFIX)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LabError(f"no lab is up (no readable {state_dir / STATE_FILE})") from exc
        return cls(
            topology=topology,
            state_dir=state_dir,
            topology_path=data.get("topology_path"),
            prefix=prefix,
            processes=processes,
            active_faults={
                k: ActiveFault.from_json(v) for k, v in data.get("active_faults", {}).items()
            },
        )

    # --- building --------------------------------------------------------------

    def build(self) -> None:
        """Create namespaces, links, addresses, routes, shaping, DNS, certificates and servers."""
        topo = self.topology
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.save()
        for net in topo.networks:
            wiring.build_router(topo, net.name, self.prefix)
        for host in topo.hosts:
            wiring.build_host(topo, host.name, self.prefix)
        for network, upstream in topo.uplinks():
            wiring.build_uplink(topo, network, self.prefix, upstream)
        self.start_bgp()
        resolvers = [str(topo.host4(h.name)) for h in topo.hosts_with("resolver")]
        for host in topo.hosts:
            netns.write_resolv_conf(self.host_ns(host.name), resolvers or ["127.0.0.1"])
        self.zone_file.write_text(json.dumps(self.zone_data(), indent=2))
        names: dict[str, list[str]] = {}
        for svc in topo.services:
            if svc.scheme == "https":
                host = topo.host(svc.host)
                names[svc.name] = [n for n in (host.dns_name, str(topo.host4(host.name))) if n]
        make_pki(self.state_dir / "pki", names)
        self.start_servers()
        self.save()
