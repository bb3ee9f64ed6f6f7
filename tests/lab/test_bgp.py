"""BGP in the small lab: sessions, kernel routes from BIRD, the collector feed, the BGP faults.

The route collector's websocket is only reachable inside the lab, so a client runs in
the `abroad` vantage's namespace (tests/lab/nsclient.py) and prints what it receives;
so does `netvigil run` with its API, for the end-to-end withdrawal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.lab_feed_latency import LISTEN, ApiWatch, withdrawals_after
from netvigil.lab import FaultSpec, Lab
from netvigil.lab.birdroutes import session_states
from netvigil.lab.netns import exec_argv

pytestmark = [pytest.mark.netns, pytest.mark.timeout(300)]

CLIENT = Path(__file__).parent / "nsclient.py"
GOV4 = "192.0.2.0/26"


def wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> float:
    """Seconds until `check()` holds; fails the test after `timeout_s`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"not within {timeout_s}s: {check.__doc__ or check}")
        time.sleep(0.05)
    return time.monotonic() - start


def kernel_routes(lab: Lab, network: str) -> str:
    return lab.ip(network, "route", "show") + lab.ip(network, "-6", "route", "show")


def pings(lab: Lab, vantage: str, address: str) -> bool:
    return lab.run(vantage, ["ping", "-c1", "-W1", address]).returncode == 0


class Feed:
    """A RIS Live client in a lab namespace, for `seconds`; its messages once it ends."""

    def __init__(self, lab: Lab, seconds: float, subscription: dict[str, Any]) -> None:
        assert lab.collector_url is not None
        argv = [sys.executable, str(CLIENT), "ris", lab.collector_url, str(seconds),
                json.dumps(subscription)]  # fmt: skip
        self.proc = subprocess.Popen(
            exec_argv(lab.host_ns("abroad"), argv), stdout=subprocess.PIPE, text=True
        )
        self.seconds = seconds
        first = self.proc.stdout.readline() if self.proc.stdout else ""
        assert json.loads(first)["message"]["type"] == "ris_subscribe_ok", first

    def messages(self) -> list[tuple[float, dict[str, Any]]]:
        out, _ = self.proc.communicate(timeout=self.seconds + 10)
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return [(r["received"], r["message"]) for r in rows]


@pytest.fixture
def applied(small_lab: Lab) -> Iterator[list[str]]:
    ids: list[str] = []
    yield ids
    for fault_id in ids:
        small_lab.clear_fault(fault_id)
    small_lab.wait_converged()


def apply(lab: Lab, ids: list[str], **fields: Any) -> str:
    fault_id = lab.apply_fault(FaultSpec.model_validate({"until": 60, **fields}))
    ids.append(fault_id)
    return fault_id


def test_every_session_is_established_and_routes_come_from_bird(small_lab: Lab) -> None:
    topo = small_lab.topology
    for net in topo.networks:
        states = session_states(small_lab.birdc(net.name, "show", "protocols").splitlines())
        assert states and all(states.values()), (net.name, states)
        routes = kernel_routes(small_lab, net.name)
        for other in topo.networks:
            if other.name != net.name:
                line = next(r for r in routes.splitlines() if r.startswith(str(other.prefix4)))
                assert "proto bird" in line, (net.name, line)
        # between networks, nothing but BIRD's routes and the links' own
        assert "default" not in routes, (net.name, routes)
    collector = session_states(small_lab.birdc("collector", "show", "protocols").splitlines())
    assert collector == {"peer4": True, "peer6": True}
    assert pings(small_lab, "home", str(topo.host4("portal")))


def test_a_withdrawal_reaches_the_kernels_and_the_collector_feed(
    small_lab: Lab, applied: list[str]
) -> None:
    topo = small_lab.topology
    feed = Feed(small_lab, 8.0, {"prefix": "192.0.2.0/24", "moreSpecific": True})
    time.sleep(1.0)
    sent = time.time()
    fault_id = apply(small_lab, applied, kind="bgp_withdrawal", target="gov")
    took = wait_for(lambda: GOV4 not in kernel_routes(small_lab, "transit"))
    assert GOV4 not in kernel_routes(small_lab, "isp")
    assert not pings(small_lab, "home", str(topo.host4("portal")))
    time.sleep(1.0)
    small_lab.clear_fault(fault_id)
    wait_for(lambda: GOV4 in kernel_routes(small_lab, "isp"))
    messages = feed.messages()
    withdrawn = [(t, m) for t, m in messages if GOV4 in m["data"].get("withdrawals", [])]
    assert withdrawn, messages
    t, message = withdrawn[0]
    data = message["data"]
    assert message["type"] == "ris_message" and data["type"] == "UPDATE"
    assert data["peer"] == str(topo.router4("transit"))
    assert data["peer_asn"] == str(topo.asn_of("transit")) and data["host"] == "collector"
    assert {"timestamp", "id", "path", "community"} <= set(data)
    back = [m["data"] for tt, m in messages if tt > t and m["data"].get("announcements")]
    assert back and back[0]["announcements"][0]["prefixes"] == [GOV4]
    assert back[0]["path"] == [topo.asn_of("transit"), topo.asn_of("gov")]
    assert took < 5.0
    assert t - sent < 2.0  # a 0.5 s poll; ≤1 s on an idle machine (bench/lab_feed_latency.py)


def test_rtbh_drops_one_address_and_the_feed_shows_the_blackhole(
    small_lab: Lab, applied: list[str]
) -> None:
    topo = small_lab.topology
    portal, ns = str(topo.host4("portal")), str(topo.host4("ns"))
    feed = Feed(small_lab, 5.0, {"prefix": GOV4})
    time.sleep(0.5)
    apply(small_lab, applied, kind="rtbh", target="portal")
    wait_for(lambda: f"blackhole {portal}" in kernel_routes(small_lab, "transit"))
    assert not pings(small_lab, "abroad", portal)
    assert pings(small_lab, "abroad", ns)  # the rest of the network answers
    assert f"{portal} " not in kernel_routes(small_lab, "isp")  # not passed on to customers
    small_lab.clear_fault(applied.pop())
    wait_for(lambda: pings(small_lab, "abroad", portal))
    announced = [m["data"] for _, m in feed.messages() if m["data"].get("announcements")]
    tagged = [d for d in announced if f"{portal}/32" in d["announcements"][0]["prefixes"]]
    assert tagged and tagged[0]["community"] == [[65535, 666]], announced


def test_scrubbing_diversion_reoriginates_the_prefix_through_the_scrubbing_as(
    small_lab: Lab, applied: list[str]
) -> None:
    topo = small_lab.topology
    feed = Feed(small_lab, 5.0, {"prefix": GOV4, "moreSpecific": True})
    time.sleep(0.5)
    apply(small_lab, applied, kind="scrubbing_diversion", target="gov", delay_ms=30)
    wait_for(lambda: "192.0.2.0/27" in kernel_routes(small_lab, "transit"))
    halves = [r for r in kernel_routes(small_lab, "transit").splitlines() if "/27" in r]
    scrub_side = str(topo.link4("scrub")[1])
    assert len(halves) == 2 and all(scrub_side in r for r in halves), halves
    assert pings(small_lab, "abroad", str(topo.host4("portal")))  # a detour, not an outage
    time.sleep(1.0)  # the collector reads its table every 0.5 s: let it see the diversion
    small_lab.clear_fault(applied.pop())
    wait_for(lambda: "/27" not in kernel_routes(small_lab, "transit"))
    seen = feed.messages()
    announced = [m["data"] for _, m in seen if m["data"].get("announcements")]
    diverted = [d for d in announced if "192.0.2.0/27" in d["announcements"][0]["prefixes"]]
    assert diverted and diverted[0]["path"][-1] == topo.asn_of("scrub"), seen


def test_dataplane_block_drops_traffic_while_bgp_stays_up(
    small_lab: Lab, applied: list[str]
) -> None:
    portal = str(small_lab.topology.host4("portal"))
    apply(small_lab, applied, kind="dataplane_block", target="gov")
    assert not pings(small_lab, "abroad", portal)
    assert not pings(small_lab, "home", portal)
    assert GOV4 in kernel_routes(small_lab, "transit")
    states = session_states(small_lab.birdc("transit", "show", "protocols").splitlines())
    assert states["down4_gov"] and states["down6_gov"]
    small_lab.clear_fault(applied.pop())
    assert pings(small_lab, "abroad", portal)


def test_defensive_withdrawal_floods_then_withdraws(small_lab: Lab, applied: list[str]) -> None:
    fault_id = apply(small_lab, applied, kind="defensive_withdrawal", target="gov",
                     rate_pps=300, withdraw_after_s=2)  # fmt: skip
    assert small_lab.has_process(f"flood:{fault_id}")
    assert GOV4 in kernel_routes(small_lab, "transit")
    took = wait_for(lambda: GOV4 not in kernel_routes(small_lab, "transit"))
    assert took > 0.5  # the flood came first
    small_lab.clear_fault(applied.pop())
    assert not small_lab.has_process(f"flood:{fault_id}")
    wait_for(lambda: GOV4 in kernel_routes(small_lab, "transit"))


def test_withdrawing_from_one_upstream_keeps_a_multi_homed_network_reachable(
    small_lab: Lab, applied: list[str]
) -> None:
    topo = small_lab.topology
    isp4, via_transit2 = str(topo.network("isp").prefix4), str(topo.link4("transit2")[1])
    apply(small_lab, applied, kind="bgp_withdrawal", target="isp", upstream="transit")

    def through_transit2() -> bool:
        """transit reaches isp through transit2"""
        routes = kernel_routes(small_lab, "transit").splitlines()
        return any(r.startswith(isp4) and via_transit2 in r for r in routes)

    wait_for(through_transit2)
    assert pings(small_lab, "abroad", str(topo.host4("home")))
    small_lab.clear_fault(applied.pop())
    wait_for(lambda: not through_transit2())


def test_block_probe_sees_a_dataplane_block_within_a_few_rounds(
    small_lab: Lab, applied: list[str]
) -> None:
    topo = small_lab.topology
    addresses = [str(topo.router4("gov"))] + [str(topo.host4(h.name)) for h in topo.hosts_in("gov")]
    spec = {"name": "gov-blocks", "kind": "block", "addresses": addresses, "network": "gov",
            "interval_s": 0.5, "timeout_s": 5, "max_probes": 6, "reply_timeout_s": 0.5}  # fmt: skip
    argv = [sys.executable, str(CLIENT), "block", "9", json.dumps(spec)]
    proc = subprocess.Popen(exec_argv(small_lab.host_ns("abroad"), argv), stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    time.sleep(3.0)
    blocked_at = time.time()
    apply(small_lab, applied, kind="dataplane_block", target="gov")
    out, _ = proc.communicate(timeout=30)
    rounds = [json.loads(line) for line in out.splitlines() if line.strip()]
    before = [r for r in rounds if r["received"] < blocked_at]
    after = [r for r in rounds if r["received"] > blocked_at + 0.6]  # rounds begun after
    assert before and all(r["blocks_up"] == 1 and r["ok"] for r in before), before
    assert all(r["probes"] <= 6 for r in rounds)
    down = [i for i, r in enumerate(after) if r["blocks_up"] == 0 and not r["ok"]]
    assert down and down[0] <= 2, after  # down within three rounds
    assert after[-1]["blocks"]["192.0.2.0/24"]["state"] == "down"


def test_netvigil_run_shows_a_withdrawal_within_10_s(small_lab: Lab, applied: list[str]) -> None:
    # netvigil run in a vantage, its API polled there: the withdrawal the collector reads
    # must show as the network's visibility falling within 10 s of the feed's timestamp.
    config = small_lab.write_config("abroad", interval_s=5.0, listen=LISTEN)
    argv = small_lab.python("netvigil", "run", "-c", str(config), "--plain", "--duration", "120")
    small_lab.spawn("abroad", "netvigil:run", argv)
    watch = ApiWatch(small_lab, "abroad", 100.0)
    try:
        watch.until(lambda b: b.get("visibility") == 1.0, 60.0)  # started, subscribed
        called = time.time()
        apply(small_lab, applied, kind="bgp_withdrawal", target="gov")
        fell = watch.until(lambda b: (b.get("visibility") or 0.0) < 1.0, 15.0)
        listed = watch.until(lambda b: bool(withdrawals_after(b, called)), 15.0)
    finally:
        watch.stop()
        small_lab.stop("netvigil:run")
    [event, *_] = withdrawals_after(listed["body"], called)
    assert event["prefix"] in (GOV4, "2001:db8:1::/64") and event["peers"] == 1, event
    assert 0.0 <= fell["received"] - event["t"] < 10.0, (fell, event)
    assert listed["received"] - event["t"] < 10.0, (listed, event)
