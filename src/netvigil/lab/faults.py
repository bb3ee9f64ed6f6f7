"""Faults: primitives that break one part of the lab for a while, and undo exactly that.

Each kind takes a target of one sort (a network, a service, a DNS host or zone, a
vantage) and is bounded: floods cap their packet rate, request concurrency and
duration and stop by themselves at `until`; rule and signal faults are undone by
`clear_fault` (and all of them by `lab_down`).

    kind               target     what it does
    shutdown           network    border router drops everything inbound, silently
    shutdown_reject    network    border router answers ICMP admin-prohibited
    route_withdrawal   network    upstream router forgets the routes (net unreachable)
    volumetric_ddos    network    attacker floods the shaped uplink with UDP
    application_ddos   service    attacker keeps the service's workers busy with requests
    service_crash      service    the service's process is killed (connection refused)
    dns_outage         dns host   the authoritative DNS server stops answering (or zone)
    tls_expired        service    the service presents an expired certificate
    in_country_filter  network    in-country ISPs drop (or reset) traffic to the network
    vantage_down       vantage    the vantage loses its uplink
    latency_spike      network    benign jitter and sparse loss on the link (or vantage)
"""

from __future__ import annotations

import functools
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netvigil.errors import LabError
from netvigil.lab import netns
from netvigil.lab.limits import MAX_CONCURRENCY, MAX_DURATION_S, MAX_PPS, MAX_SIZE

if TYPE_CHECKING:
    from netvigil.lab.lab import Lab

__all__ = ["FAULT_KINDS", "FaultKind", "FaultSpec", "apply_fault", "clear_fault", "target_sort"]

FaultKind = Literal[
    "shutdown",
    "shutdown_reject",
    "route_withdrawal",
    "volumetric_ddos",
    "application_ddos",
    "service_crash",
    "dns_outage",
    "tls_expired",
    "in_country_filter",
    "vantage_down",
    "latency_spike",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

_TARGET_SORT: dict[str, str] = {
    "shutdown": "network",
    "shutdown_reject": "network",
    "route_withdrawal": "network",
    "volumetric_ddos": "network",
    "application_ddos": "service",
    "service_crash": "service",
    "dns_outage": "dns",
    "tls_expired": "service",
    "in_country_filter": "network",
    "vantage_down": "vantage",
    "latency_spike": "network",
}


def target_sort(kind: str) -> str:
    """What a fault kind targets: `network`, `service`, `dns` or `vantage`."""
    return _TARGET_SORT[kind]


class FaultSpec(BaseModel):
    """One fault on a scenario's timeline (`[[fault]]`); times are seconds from the start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    target: str = Field(min_length=1)
    at: float = Field(default=0.0, ge=0)
    until: float = Field(gt=0)
    rate_pps: int = Field(default=3000, ge=1, le=MAX_PPS)
    """volumetric_ddos: packets per second (latency_spike: background stream, fallback)."""
    packet_size: int = Field(default=1200, ge=28, le=MAX_SIZE)
    pulse_on_s: float = Field(default=0.0, ge=0, le=60)
    pulse_off_s: float = Field(default=0.0, ge=0, le=60)
    """volumetric_ddos: flood in pulses (on/off), for flapping reachability."""
    concurrency: int = Field(default=64, ge=1, le=MAX_CONCURRENCY)
    """application_ddos: requests kept in flight."""
    mode: Literal["drop", "reset"] = "drop"
    """in_country_filter: drop silently, or reset TCP (and reject the rest)."""
    delay_ms: int = Field(default=40, ge=0, le=1000)
    jitter_ms: int = Field(default=30, ge=0, le=1000)
    loss: float = Field(default=0.02, ge=0, le=0.1)
    """latency_spike: added delay, jitter and random loss (sparse: at most 10%)."""

    @model_validator(mode="after")
    def _check_window(self) -> Self:
        if self.until <= self.at:
            raise ValueError(f"until ({self.until}) must be after at ({self.at})")
        if self.until - self.at > MAX_DURATION_S:
            raise ValueError(f"a fault may last at most {MAX_DURATION_S:.0f}s")
        return self

    @property
    def duration_s(self) -> float:
        return self.until - self.at

    @property
    def fault_id(self) -> str:
        return f"{self.kind}:{self.target}:{self.at:g}"


# --- helpers -------------------------------------------------------------------


def _iptables(lab: Lab, ns_name: str, family: int, op: str, rule: list[str]) -> None:
    tool = "iptables" if family == 4 else "ip6tables"
    netns.run(["ip", "netns", "exec", lab.namespace(ns_name), tool, "-w", op, *rule])


def _add_rules(
    lab: Lab, record: dict[str, Any], ns_name: str, rules: list[tuple[int, list[str]]]
) -> None:
    for family, rule in rules:
        chain, *rest = rule
        _iptables(lab, ns_name, family, "-I", [chain, "1", *rest])
        record.setdefault("rules", []).append([ns_name, family, rule])


def _require(lab: Lab, fault: FaultSpec) -> None:
    topo, sort, t = lab.topology, target_sort(fault.kind), fault.target
    if sort == "network":
        if not any(n.name == t for n in topo.networks):
            raise LabError(f"{fault.kind}: no network named {t!r}")
        if fault.kind != "latency_spike" and topo.network(t).upstream is None:
            raise LabError(f"{fault.kind}: {t!r} is the core network; pick one with an upstream")
    elif sort == "service" and not any(s.name == t for s in topo.services):
        raise LabError(f"{fault.kind}: no service named {t!r}")
    elif sort == "vantage" and not any(h.name == t and h.role == "vantage" for h in topo.hosts):
        raise LabError(f"{fault.kind}: no vantage named {t!r}")
    elif sort == "dns" and _dns_host(lab, t) is None:
        raise LabError(f"{fault.kind}: no DNS server host or zone named {t!r}")


def _dns_host(lab: Lab, target: str) -> str | None:
    topo = lab.topology
    for zone in topo.zones:
        if target in (zone.name, zone.server):
            return zone.server
    return None


@functools.cache
def has_netem() -> bool:
    """Whether this kernel has the netem qdisc (delay and jitter); tested in a scratch netns."""
    ns = f"{netns.PREFIX}netem-check"
    netns.run(["ip", "netns", "add", ns], check=False)
    try:
        netns.run(["ip", "-n", ns, "link", "add", "nv-x", "type", "veth", "peer", "name", "nv-y"],
                  check=False)  # fmt: skip
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "nv-x", "root", "netem",
             "delay", "1ms"],
            capture_output=True,
            check=False,
        )  # fmt: skip
        return proc.returncode == 0
    finally:
        netns.run(["ip", "netns", "del", ns], check=False)


# --- apply ---------------------------------------------------------------------


def apply_fault(lab: Lab, fault: FaultSpec) -> str:
    """Start `fault` in `lab` now; returns its id. Raises LabError."""
    _require(lab, fault)
    fault_id = fault.fault_id
    if fault_id in lab.active_faults:
        clear_fault(lab, fault_id)
    record: dict[str, Any] = {"spec": fault.model_dump(mode="json"), "started": time.time()}
    lab.active_faults[fault_id] = record
    try:
        _APPLY[fault.kind](lab, fault, record)
    except BaseException:
        clear_fault(lab, fault_id)
        raise
    lab.save()
    return fault_id


def _border_block(lab: Lab, fault: FaultSpec, record: dict[str, Any], reject: bool) -> None:
    rules: list[tuple[int, list[str]]] = []
    for family in (4, 6):
        if reject:
            kind = "icmp-admin-prohibited" if family == 4 else "icmp6-adm-prohibited"
            action = ["-j", "REJECT", "--reject-with", kind]
        else:
            action = ["-j", "DROP"]
        rules += [(family, ["FORWARD", "-i", "nv-up", *action]),
                  (family, ["INPUT", "-i", "nv-up", *action])]  # fmt: skip
    _add_rules(lab, record, fault.target, rules)


def _shutdown(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    _border_block(lab, fault, record, reject=False)


def _shutdown_reject(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    _border_block(lab, fault, record, reject=True)


def _route_withdrawal(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    record["withdrawn"] = fault.target
    lab.withdraw_routes(fault.target)


def _volumetric_ddos(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    attacker = _attacker(lab)
    topo = lab.topology
    targets = [str(topo.host4(h.name)) for h in topo.hosts_in(fault.target)]
    argv = ["udp", "--pps", str(fault.rate_pps), "--size", str(fault.packet_size),
            "--duration", f"{fault.duration_s:g}", "--pulse-on", f"{fault.pulse_on_s:g}",
            "--pulse-off", f"{fault.pulse_off_s:g}"]  # fmt: skip
    for t in targets:
        argv += ["--target", t]
    key = f"flood:{fault.fault_id}"
    lab.spawn(attacker, key, lab.python("netvigil.lab.flood", *argv))
    record["process"] = key


def _application_ddos(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    attacker = _attacker(lab)
    svc = lab.topology.service(fault.target)
    url = service_url(lab, svc.name)
    argv = ["http", "--url", url, "--concurrency", str(fault.concurrency),
            "--duration", f"{fault.duration_s:g}", "--ca-file", str(lab.ca_file)]  # fmt: skip
    key = f"flood:{fault.fault_id}"
    lab.spawn(attacker, key, lab.python("netvigil.lab.flood", *argv))
    record["process"] = key


def _service_crash(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    record["crashed"] = fault.target
    lab.stop(f"service:{fault.target}", sig=signal.SIGKILL)


def _dns_outage(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    host = _dns_host(lab, fault.target)
    key = f"dns:{host}"
    lab.signal(key, signal.SIGSTOP)
    record["stopped"] = key


def _tls_expired(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    svc = lab.topology.service(fault.target)
    if svc.scheme != "https":
        raise LabError(f"tls_expired: service {svc.name!r} does not use TLS")
    lab.signal(f"service:{svc.name}", signal.SIGUSR1)
    record["expired"] = svc.name


def _in_country_filter(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    topo = lab.topology
    country = topo.network(fault.target).country
    isps = sorted(
        {h.network for h in topo.hosts_with("vantage") if topo.country_of(h) == country}
        - {fault.target}
    )
    if country is None or not isps:
        raise LabError(
            f"in_country_filter: no network holds a vantage in {fault.target!r}'s country"
        )
    for isp in isps:
        rules: list[tuple[int, list[str]]] = []
        for prefix in lab.routed_prefixes(fault.target):
            family = 6 if ":" in prefix else 4
            match = ["FORWARD", "-i", "nv-br", "-d", prefix]
            if fault.mode == "reset":
                unreach = "icmp-port-unreachable" if family == 4 else "icmp6-port-unreachable"
                rules.append((family, [*match, "-j", "REJECT", "--reject-with", unreach]))
                rules.append(
                    (family, [*match, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"])
                )
            else:
                rules.append((family, [*match, "-j", "DROP"]))
        _add_rules(lab, record, isp, rules)


def _vantage_down(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    host = lab.topology.host(fault.target)
    port = lab.port_of(host.name)
    lab.ip(host.network, "link", "set", port, "down")
    record["link"] = [host.network, port]


def _latency_spike(lab: Lab, fault: FaultSpec, record: dict[str, Any]) -> None:
    topo = lab.topology
    net = topo.network(fault.target)
    if net.upstream is None:
        raise LabError("latency_spike: the core network has no uplink; pick another network")
    router, dev = net.upstream, lab.downlink_of(net.name)
    if has_netem():
        parent = ["parent", "1:1"] if net.uplink is not None else ["root"]
        netns.run(
            ["ip", "netns", "exec", lab.namespace(router), "tc", "qdisc", "replace", "dev", dev,
             *parent, "handle", "10:", "netem", "delay", f"{fault.delay_ms}ms",
             f"{fault.jitter_ms}ms", "loss", f"{fault.loss * 100:g}%"]
        )  # fmt: skip
        record["netem"] = [router, dev, parent]
        return
    # No netem in this kernel: sparse random loss with an iptables rule, and jitter from
    # a gentle paced background stream that queues in the shaped uplink for a moment.
    rule = ["FORWARD", "-o", dev, "-m", "statistic", "--mode", "random",
            "--probability", f"{fault.loss:g}", "-j", "DROP"]  # fmt: skip
    _add_rules(lab, record, router, [(4, rule), (6, rule)])
    if net.uplink is not None and any(h.role == "attacker" for h in topo.hosts):
        # Datagrams of 64..1000 bytes (about 530 on average) at 1.2x the link's rate for
        # 0.3 s in every 2 s: the queue grows by a few dozen packets, then drains.
        pps = max(1, int(net.uplink.rate_kbit * 1000 * 1.2 / (530 * 8)))
        targets = [str(topo.host4(h.name)) for h in topo.hosts_in(net.name)][:1]
        argv = ["udp", "--pps", str(pps), "--size", "1000", "--duration",
                f"{fault.duration_s:g}", "--pulse-on", "0.3", "--pulse-off", "1.7",
                "--target", *targets]  # fmt: skip
        key = f"flood:{fault.fault_id}"
        lab.spawn(_attacker(lab), key, lab.python("netvigil.lab.flood", *argv))
        record["process"] = key


def _attacker(lab: Lab) -> str:
    attackers = lab.topology.hosts_with("attacker")
    if not attackers:
        raise LabError("this topology has no host with role = 'attacker' to flood from")
    return attackers[0].name


def service_url(lab: Lab, service: str) -> str:
    """The URL of a lab service, by its host's DNS name (its address when it has none)."""
    topo = lab.topology
    svc = topo.service(service)
    host = topo.host(svc.host)
    name = host.dns_name or str(topo.host4(host.name))
    default = 443 if svc.scheme == "https" else 80
    port = "" if svc.effective_port == default else f":{svc.effective_port}"
    return f"{svc.scheme}://{name}{port}/"


_APPLY = {
    "shutdown": _shutdown,
    "shutdown_reject": _shutdown_reject,
    "route_withdrawal": _route_withdrawal,
    "volumetric_ddos": _volumetric_ddos,
    "application_ddos": _application_ddos,
    "service_crash": _service_crash,
    "dns_outage": _dns_outage,
    "tls_expired": _tls_expired,
    "in_country_filter": _in_country_filter,
    "vantage_down": _vantage_down,
    "latency_spike": _latency_spike,
}


# --- clear ---------------------------------------------------------------------


def clear_fault(lab: Lab, fault_id: str) -> None:
    """Undo what applying `fault_id` changed (idempotent; unknown ids are ignored)."""
    record = lab.active_faults.pop(fault_id, None)
    if record is None:
        return
    for ns_name, family, rule in record.get("rules", []):
        tool = "iptables" if family == 4 else "ip6tables"
        netns.run(["ip", "netns", "exec", lab.namespace(ns_name), tool, "-w", "-D", *rule],
                  check=False)  # fmt: skip
    if "process" in record:
        lab.stop(record["process"])
    if "withdrawn" in record:
        lab.add_routes(record["withdrawn"])
    if "crashed" in record:
        lab.start_service(record["crashed"])
    if "stopped" in record and record["stopped"] in lab.processes:
        lab.signal(record["stopped"], signal.SIGCONT)
    if "expired" in record and f"service:{record['expired']}" in lab.processes:
        lab.signal(f"service:{record['expired']}", signal.SIGUSR2)
    if "link" in record:
        network, port = record["link"]
        lab.ip(network, "link", "set", port, "up", check=False)
    if "netem" in record:
        router, dev, parent = record["netem"]
        if parent == ["root"]:
            netns.run(["ip", "netns", "exec", lab.namespace(router), "tc", "qdisc", "del",
                       "dev", dev, "root"], check=False)  # fmt: skip
        else:
            lab.reset_queue(record["spec"]["target"])
    lab.save()
