"""`latency_spike`: benign delay, jitter and sparse loss on a network's uplink.

With netem in the kernel the upstream router's queue towards the network becomes a
netem qdisc (`delay_ms`, `jitter_ms`, `loss`). Without it (some cloud kernels) the
router drops `loss` of the packets at random (iptables `statistic`), and, when the
uplink is shaped and the topology has an attacker, a gentle paced stream queues in the
uplink for a moment every 2 s: jitter of a few tens of milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.errors import LabError
from netvigil.lab import netns
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register
from netvigil.lab.faults.processes import start_flood
from netvigil.lab.faults.rules import IptablesRule, delete_rules, insert_rules

__all__ = ["LatencyAdded", "LatencySpike"]


@dataclass(frozen=True, slots=True)
class LatencyAdded(UndoRecord):
    """What a latency spike changed on the upstream `router`'s `device` towards `network`."""

    network: str
    router: str
    device: str
    netem_parent: tuple[str, ...] | None = None
    """Where the netem qdisc went (`root`, or `parent 1:1` under the shaper); None: no netem."""
    rules: tuple[IptablesRule, ...] = ()
    process: str | None = None
    """The paced background stream's process key, if one was started."""


@register
class LatencySpike(Fault[LatencyAdded]):
    kind = "latency_spike"
    target = "network"
    cause = None
    record_type = LatencyAdded

    def apply(self, host: LabHost) -> LatencyAdded:
        spec, topo = self.spec, host.topology
        net = topo.network(spec.target)
        if net.upstream is None:
            raise LabError("latency_spike: the core network has no uplink; pick another network")
        router, dev = net.upstream, host.downlink_of(net.name)
        if netns.has_netem():
            parent = ("parent", "1:1") if net.uplink is not None else ("root",)
            host.command(
                router,
                ["tc", "qdisc", "replace", "dev", dev, *parent, "handle", "10:", "netem",
                 "delay", f"{spec.delay_ms}ms", f"{spec.jitter_ms}ms",
                 "loss", f"{spec.loss * 100:g}%"],
            )  # fmt: skip
            return LatencyAdded(net.name, router, dev, netem_parent=parent)
        rule = ("FORWARD", "-o", dev, "-m", "statistic", "--mode", "random",
                "--probability", f"{spec.loss:g}", "-j", "DROP")  # fmt: skip
        added = insert_rules(host, [IptablesRule(router, 4, rule), IptablesRule(router, 6, rule)])
        if net.uplink is None or not topo.hosts_with("attacker"):
            return LatencyAdded(net.name, router, dev, rules=added.rules)
        # Datagrams of 64..1000 bytes (about 530 on average) at 1.2x the link's rate for
        # 0.3 s in every 2 s: the queue grows by a few dozen packets, then drains.
        pps = max(1, int(net.uplink.rate_kbit * 1000 * 1.2 / (530 * 8)))
        first = [str(topo.host4(h.name)) for h in topo.hosts_in(net.name)][:1]
        argv = ["udp", "--pps", str(pps), "--size", "1000", "--duration",
                f"{spec.duration_s:g}", "--pulse-on", "0.3", "--pulse-off", "1.7",
                "--target", *first]  # fmt: skip
        try:
            stream = start_flood(host, spec, argv)
        except BaseException:
            delete_rules(host, added.rules)
            raise
        return LatencyAdded(net.name, router, dev, rules=added.rules, process=stream.key)

    def undo(self, host: LabHost, record: LatencyAdded) -> None:
        delete_rules(host, record.rules)
        if record.process is not None:
            host.stop(record.process)
        if record.netem_parent == ("root",):
            host.command(record.router, ["tc", "qdisc", "del", "dev", record.device, "root"],
                         check=False)  # fmt: skip
        elif record.netem_parent is not None:
            host.reset_queue(record.network)
