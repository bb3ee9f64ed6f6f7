"""The lab: build a topology into namespaces, run its servers, apply faults, tear it all down.

    lab = lab_up()                       # the default topology (Albania, July 2022)
    lab.apply_fault(FaultSpec(kind="shutdown", target="gov", at=0, until=60))
    lab.run("tirana", ["ping", "-c1", "192.0.2.2"])
    lab.clear_fault(...)
    lab_down()                           # idempotent; removes everything named nv-*

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
from netvigil.lab import netns
from netvigil.lab.config import netvigil_config_text
from netvigil.lab.faults import FaultSpec, apply_fault, clear_fault
from netvigil.lab.pki import ServiceCerts, make_pki
from netvigil.lab.topology import Topology, load_topology
from netvigil.model import Measurement

__all__ = ["Lab", "LabStatus", "default_state_dir", "lab_down", "lab_status", "lab_up"]

STATE_FILE = "lab.json"
READY_TIMEOUT_S = 20.0


def default_state_dir() -> Path:
    """Where the lab keeps its state: $NETVIGIL_LAB_DIR or /run/nv-lab."""
    return Path(os.environ.get("NETVIGIL_LAB_DIR", "/run/nv-lab"))


@dataclass
class Lab:
    """A running lab: its topology, where its state lives and the processes it started."""

    topology: Topology
    state_dir: Path
    topology_path: str | None = None
    processes: dict[str, int] = field(default_factory=dict)
    """Process ids by key: `service:<name>`, `dns:<host>`, `flood:<id>`..."""
    active_faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What each applied fault changed, by fault id, so clearing undoes exactly that."""

    # --- names -----------------------------------------------------------------

    @staticmethod
    def host_ns(host: str) -> str:
        """The namespace of a host."""
        return f"{netns.PREFIX}{host}"

    @staticmethod
    def router_ns(network: str) -> str:
        """The namespace of a network's router."""
        return f"{netns.PREFIX}r-{network}"

    def namespace(self, name: str) -> str:
        """The namespace for a host name, or for a network name (its router)."""
        if any(h.name == name for h in self.topology.hosts):
            return self.host_ns(name)
        if any(n.name == name for n in self.topology.networks):
            return self.router_ns(name)
        raise LabError(f"no host or network named {name!r} in topology {self.topology.name!r}")

    def port_of(self, host: str) -> str:
        """The router-side interface of `host`'s link (in its network's router)."""
        h = self.topology.host(host)
        index = [x.name for x in self.topology.hosts_in(h.network)].index(host)
        return f"nv-h{index}"

    def downlink_of(self, network: str) -> str:
        """The upstream router's interface towards `network`."""
        return f"nv-d{self.topology.link_index(network)}"

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

    def _start_servers(self) -> None:
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

    def apply_fault(self, fault: FaultSpec) -> str:
        """Start a fault now; returns its id. Raises LabError when the target does not fit."""
        return apply_fault(self, fault)

    def clear_fault(self, fault_id: str) -> None:
        """End a fault started by `apply_fault` (idempotent)."""
        clear_fault(self, fault_id)

    def clear_all_faults(self) -> None:
        """End every active fault."""
        for fault_id in list(self.active_faults):
            self.clear_fault(fault_id)

    # --- netvigil --------------------------------------------------------------

    def netvigil_config(
        self, vantage: str | None = None, *, interval_s: float = 5.0, timeout_s: float = 3.0
    ) -> str:
        """A netvigil config (TOML text) watching every service of this lab from `vantage`."""
        return netvigil_config_text(
            self.topology,
            vantage=vantage,
            ca_file=str(self.ca_file),
            interval_s=interval_s,
            timeout_s=timeout_s,
            store_path=str(self.state_dir / "netvigil.db"),
        )

    def write_config(
        self, vantage: str, *, interval_s: float = 5.0, timeout_s: float = 3.0
    ) -> Path:
        """Write the netvigil config for `vantage` into the state dir; returns its path."""
        path = self.state_dir / "config" / f"{vantage}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.netvigil_config(vantage, interval_s=interval_s, timeout_s=timeout_s))
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
        from netvigil.model import measurement_list_adapter

        return measurement_list_adapter.validate_python(rows)

    # --- state -----------------------------------------------------------------

    def save(self) -> None:
        """Write the lab's state file (what `Lab.load` and `lab_down` read)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "topology": self.topology.model_dump(mode="json"),
            "topology_path": self.topology_path,
            "processes": self.processes,
            "active_faults": self.active_faults,
        }
        tmp = self.state_dir / f"{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state_dir / STATE_FILE)

    @classmethod
    def load(cls, state_dir: Path | None = None) -> Lab:
        """The lab running now, from its state file. Raises LabError when none is up."""
        state_dir = state_dir or default_state_dir()
        try:
            data = json.loads((state_dir / STATE_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise LabError(f"no lab is up (no readable {state_dir / STATE_FILE})") from exc
        return cls(
            topology=Topology.model_validate(data["topology"]),
            state_dir=state_dir,
            topology_path=data.get("topology_path"),
            processes={k: int(v) for k, v in data.get("processes", {}).items()},
            active_faults=data.get("active_faults", {}),
        )

    # --- building --------------------------------------------------------------

    def build(self) -> None:
        """Create namespaces, links, addresses, routes, shaping, DNS, certificates and servers."""
        topo = self.topology
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.save()
        for net in topo.networks:
            self._build_router(net.name)
        for host in topo.hosts:
            self._build_host(host.name)
        for net in topo.networks:
            if net.upstream is not None:
                self._build_uplink(net.name)
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
        self._start_servers()
        self.save()

    def _sysctl(self, ns: str, *settings: str) -> None:
        netns.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *settings])

    def _build_router(self, network: str) -> None:
        topo = self.topology
        net = topo.network(network)
        ns = self.router_ns(network)
        netns.run(["ip", "netns", "add", ns])
        netns.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        self._sysctl(
            ns,
            "net.ipv4.ip_forward=1",
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv6.icmp.ratelimit=0",
        )
        netns.run(["ip", "-n", ns, "link", "add", "nv-br", "type", "bridge"])
        netns.run(
            ["ip", "-n", ns, "addr", "add", f"{topo.router4(network)}/{net.prefix4.prefixlen}",
             "dev", "nv-br"]
        )  # fmt: skip
        v6 = topo.router6(network)
        if v6 is not None and net.prefix6 is not None:
            netns.run(
                ["ip", "-n", ns, "addr", "add", f"{v6}/{net.prefix6.prefixlen}", "dev", "nv-br",
                 "nodad"]
            )  # fmt: skip
        netns.run(["ip", "-n", ns, "link", "set", "nv-br", "up"])

    def _build_host(self, host: str) -> None:
        topo = self.topology
        h = topo.host(host)
        net = topo.network(h.network)
        ns, router = self.host_ns(host), self.router_ns(h.network)
        port = self.port_of(host)
        netns.run(["ip", "netns", "add", ns])
        netns.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        netns.run(
            ["ip", "link", "add", "nv-eth", "netns", ns, "type", "veth", "peer", "name", port,
             "netns", router]
        )  # fmt: skip
        netns.run(["ip", "-n", router, "link", "set", port, "master", "nv-br"])
        netns.run(["ip", "-n", router, "link", "set", port, "up"])
        netns.run(
            ["ip", "-n", ns, "addr", "add", f"{topo.host4(host)}/{net.prefix4.prefixlen}",
             "dev", "nv-eth"]
        )  # fmt: skip
        netns.run(["ip", "-n", ns, "link", "set", "nv-eth", "up"])
        netns.run(["ip", "-n", ns, "route", "add", "default", "via", str(topo.router4(h.network))])
        v6 = topo.host6(host)
        if v6 is not None and net.prefix6 is not None:
            netns.run(
                ["ip", "-n", ns, "addr", "add", f"{v6}/{net.prefix6.prefixlen}", "dev", "nv-eth",
                 "nodad"]
            )  # fmt: skip
            netns.run(
                ["ip", "-n", ns, "-6", "route", "add", "default", "via",
                 str(topo.router6(h.network))]
            )  # fmt: skip

    def _build_uplink(self, network: str) -> None:
        topo = self.topology
        net = topo.network(network)
        assert net.upstream is not None
        ns, up_ns = self.router_ns(network), self.router_ns(net.upstream)
        down = self.downlink_of(network)
        upper4, lower4 = topo.link4(network)
        upper6, lower6 = topo.link6(network)
        netns.run(
            ["ip", "link", "add", "nv-up", "netns", ns, "type", "veth", "peer", "name", down,
             "netns", up_ns]
        )  # fmt: skip
        netns.run(["ip", "-n", ns, "addr", "add", f"{lower4}/30", "dev", "nv-up"])
        netns.run(["ip", "-n", ns, "addr", "add", f"{lower6}/64", "dev", "nv-up", "nodad"])
        netns.run(["ip", "-n", up_ns, "addr", "add", f"{upper4}/30", "dev", down])
        netns.run(["ip", "-n", up_ns, "addr", "add", f"{upper6}/64", "dev", down, "nodad"])
        netns.run(["ip", "-n", ns, "link", "set", "nv-up", "up"])
        netns.run(["ip", "-n", up_ns, "link", "set", down, "up"])
        netns.run(["ip", "-n", ns, "route", "add", "default", "via", str(upper4)])
        netns.run(["ip", "-n", ns, "-6", "route", "add", "default", "via", str(upper6)])
        self.add_routes(network)
        if net.uplink is not None:
            u = net.uplink
            tc = ["ip", "netns", "exec", up_ns, "tc"]
            netns.run([*tc, "qdisc", "replace", "dev", down, "root", "handle", "1:", "htb",
                       "default", "1"])  # fmt: skip
            netns.run([*tc, "class", "add", "dev", down, "parent", "1:", "classid", "1:1", "htb",
                       "rate", f"{u.rate_kbit}kbit", "ceil", f"{u.rate_kbit}kbit",
                       "burst", f"{u.burst_kbit}kbit"])  # fmt: skip
            self.reset_queue(network)

    def reset_queue(self, network: str) -> None:
        """Put back the plain FIFO of `network`'s shaped uplink."""
        net = self.topology.network(network)
        if net.upstream is None or net.uplink is None:
            return
        netns.run(
            ["ip", "netns", "exec", self.router_ns(net.upstream), "tc", "qdisc", "replace",
             "dev", self.downlink_of(network), "parent", "1:1", "handle", "10:", "pfifo",
             "limit", str(net.uplink.queue_packets)]
        )  # fmt: skip

    def routed_prefixes(self, network: str) -> list[str]:
        """The prefixes reached through `network`'s uplink: its own and its descendants'."""
        nets = [self.topology.network(network), *self.topology.descendants(network)]
        out: list[str] = []
        for n in nets:
            out.append(str(n.prefix4))
            if n.prefix6 is not None:
                out.append(str(n.prefix6))
        return out

    def add_routes(self, network: str) -> None:
        """Announce `network` upstream: routes in every ancestor router towards it."""
        topo = self.topology
        child = topo.network(network)
        while child.upstream is not None:
            parent = child.upstream
            lower4, lower6 = topo.link4(child.name)[1], topo.link6(child.name)[1]
            for prefix in self.routed_prefixes(network):
                via = str(lower6) if ":" in prefix else str(lower4)
                netns.run(["ip", "-n", self.router_ns(parent), "route", "replace", prefix,
                           "via", via])  # fmt: skip
            child = topo.network(parent)

    def withdraw_routes(self, network: str) -> None:
        """Withdraw `network` upstream: its upstream router forgets the routes towards it."""
        upstream = self.topology.network(network).upstream
        if upstream is None:
            raise LabError(f"network {network!r} is the core; it has no upstream to withdraw from")
        for prefix in self.routed_prefixes(network):
            netns.run(["ip", "-n", self.router_ns(upstream), "route", "del", prefix], check=False)


@dataclass(frozen=True, slots=True)
class LabStatus:
    """What exists now: namespaces and processes named nv-*, and the lab's state if any."""

    up: bool
    topology: str | None
    namespaces: list[str]
    processes: dict[str, int]
    dead_processes: list[str]
    active_faults: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "topology": self.topology,
            "namespaces": self.namespaces,
            "processes": self.processes,
            "dead_processes": self.dead_processes,
            "active_faults": self.active_faults,
        }


def lab_up(topology_path: str | Path | None = None, *, state_dir: Path | None = None) -> Lab:
    """Build a lab from a topology file (the default one when None) and start its servers.

    Anything left by an earlier lab is removed first. On failure everything built so
    far is torn down again. Raises LabError (missing root, tools or netns support; a
    failed command) and ConfigError (an invalid topology file).
    """
    topology = load_topology(topology_path)
    netns.check_support()
    state_dir = state_dir or default_state_dir()
    own = own_namespaces(topology)
    _sweep(state_dir, only=own)  # what an earlier lab of these names left behind
    lab = Lab(
        topology=topology,
        state_dir=state_dir,
        topology_path=None if topology_path is None else str(topology_path),
    )
    try:
        lab.build()
    except BaseException:
        _sweep(state_dir, only=own)
        raise
    return lab


def own_namespaces(topology: Topology) -> list[str]:
    """The namespaces a lab of `topology` consists of."""
    own = [Lab.host_ns(h.name) for h in topology.hosts]
    return own + [Lab.router_ns(n.name) for n in topology.networks]


def lab_down(*, state_dir: Path | None = None, topology: Topology | None = None) -> list[str]:
    """Remove everything the lab made: processes, namespaces (with their links, routes,
    iptables rules and qdiscs), links and /etc/netns entries named nv-*. Idempotent.

    With `topology`, only that lab's namespaces (and the processes in them and in the
    state file) go, and other `nv-*` namespaces on the machine are left alone.
    Returns what was removed.
    """
    only = None if topology is None else own_namespaces(topology)
    return _sweep(state_dir or default_state_dir(), only=only)


def _sweep(state_dir: Path, *, only: list[str] | None) -> list[str]:
    pids: list[int] = []
    state = state_dir / STATE_FILE
    if state.exists():
        try:
            pids = [int(p) for p in json.loads(state.read_text()).get("processes", {}).values()]
        except (OSError, ValueError):
            pids = []
    removed = netns.remove_everything(extra_pids=pids, only=only)
    state.unlink(missing_ok=True)
    return removed


def lab_status(*, state_dir: Path | None = None) -> LabStatus:
    """What of the lab exists now (works whether or not a lab is up)."""
    state_dir = state_dir or default_state_dir()
    namespaces = netns.list_namespaces()
    try:
        lab: Lab | None = Lab.load(state_dir)
    except LabError:
        lab = None
    if lab is None:
        return LabStatus(bool(namespaces), None, namespaces, {}, [], [])
    dead = [key for key, pid in lab.processes.items() if not Path(f"/proc/{pid}").exists()]
    return LabStatus(
        up=bool(namespaces),
        topology=lab.topology.name,
        namespaces=namespaces,
        processes=lab.processes,
        dead_processes=dead,
        active_faults=sorted(lab.active_faults),
    )
