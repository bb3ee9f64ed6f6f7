"""Overlapping failures: two different failures on one network are two incidents, each
with its own cause, and a dead vantage does not absorb an outage the others see."""

from __future__ import annotations

import random

from netvigil.cause import Cause
from netvigil.detect.detector import Detector
from netvigil.outcome import Outcome, Phase

from .streams import ONSET, SILENT, Probe, World, gov, healthy, target_name

PORTAL = target_name("e-albania")
PARLIAMENT = target_name("parliament")


def flood_here_crash_there(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """From ONSET: the portal answers 503 slowly (an application flood), while Parliament,
    on the same network, refuses connections (crashed) from ONSET + 20 s."""
    if target == PORTAL and ts >= ONSET:
        return Probe(Outcome.HTTP_5XX, 0.02, ttfb=1.5 + rng.uniform(0, 0.5), phase=Phase.RESPONSE)
    if target == PARLIAMENT and ts >= ONSET + 20:
        return Probe(Outcome.TCP_REFUSED, None, phase=Phase.CONNECT)
    return healthy(ts, vantage, target, rng)


def test_two_failures_on_one_network_are_two_incidents() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(flood_here_crash_there, end=ONSET + 300))
    detector.flush()
    outages = [i for i in detector.incidents() if i.vantage is None]
    by_service = {s: i for i in outages for s in i.services}
    assert set(by_service) == {"e-albania", "parliament"}
    assert by_service["e-albania"].id != by_service["parliament"].id
    assert by_service["parliament"].cause is Cause.SERVICE_FAILURE
    assert by_service["e-albania"].cause is not Cause.SERVICE_FAILURE or (
        by_service["e-albania"].cause is not by_service["parliament"].cause
    )


def dead_then_outage(ts: float, vantage: str, target: str, rng: random.Random) -> Probe | None:
    """`us` loses its own link at ONSET - 120 (everything, its control too, times out);
    the gov network is cut at ONSET, seen by the other vantages."""
    if vantage == "us" and ts >= ONSET - 120:
        return SILENT
    if target in {target_name(s) for s in ("e-albania", "pm-office", "parliament")} and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_an_outage_while_a_vantage_is_dead_is_its_own_incident() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(dead_then_outage, end=ONSET + 300))
    detector.flush()
    [dead] = [i for i in detector.incidents() if i.vantage == "us"]
    outages = [i for i in detector.incidents() if i.vantage is None]
    assert dead.cause is Cause.VANTAGE_PROBLEM
    assert all(c.cause is Cause.VANTAGE_PROBLEM for c in dead.cause_history)
    assert [set(i.services) for i in outages] == [{"e-albania", "pm-office", "parliament"}]
    assert outages[0].cause is not Cause.VANTAGE_PROBLEM
    assert "us" not in outages[0].vantages


def crash_then_servfail(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The portal refuses connections from ONSET (crashed); from ONSET + 60 s its name no
    longer resolves (the name server answers SERVFAIL) for the rest of the run."""
    if target == PORTAL and ONSET <= ts < ONSET + 60:
        return Probe(Outcome.TCP_REFUSED, None, phase=Phase.CONNECT)
    if target == PORTAL and ts >= ONSET + 60:
        return Probe(Outcome.DNS_SERVFAIL, None, phase=Phase.RESOLVE)
    return healthy(ts, vantage, target, rng)


def test_the_cause_follows_the_failure_as_it_changes() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(crash_then_servfail, end=ONSET + 400))
    detector.flush()
    [outage] = [i for i in detector.incidents() if i.vantage is None]
    causes = [c.cause for c in outage.cause_history]
    assert Cause.SERVICE_FAILURE in causes
    assert causes[-1] is Cause.DNS_FAILURE, causes
    # The evidence speaks of the failure as it is now, not of refused connections only.
    statements = " ".join(e.statement for e in outage.evidence)
    assert "DNS" in statements or "dns" in statements or "resolv" in statements, statements
    # Never back and forth: each cause holds until the failure changes.
    assert len(causes) == len(set(causes)), causes


def test_a_name_server_cut_off_with_its_network_is_the_same_incident() -> None:
    from netvigil.detect.signature import family

    assert family("dns_timeout") == family("tcp_timeout") == "unanswered"
    assert family("dns_servfail") == "dns" != family("tcp_refused")


def cut_then_crash(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The gov network's routes are withdrawn from ONSET for 60 s (routers answer net
    unreachable); 40 s after they come back (recovered, but the incident still waits out its
    resolve hold), the portal crashes (connection refused) for the rest of the run."""
    gov = {target_name(s) for s in ("e-albania", "pm-office", "parliament")}
    if target in gov and ONSET <= ts < ONSET + 60:
        return Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)
    if target == PORTAL and ts >= ONSET + 100:
        return Probe(Outcome.TCP_REFUSED, None, phase=Phase.CONNECT)
    return healthy(ts, vantage, target, rng)


def test_a_new_failure_after_recovery_is_a_new_incident() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(cut_then_crash, end=ONSET + 300))
    detector.flush()
    outages = sorted((i for i in detector.incidents() if i.vantage is None), key=lambda i: i.start)
    assert len(outages) == 2, [(i.cause, i.services, i.start, i.end) for i in outages]
    cut, crash = outages
    assert cut.cause is Cause.ROUTE_WITHDRAWAL
    assert cut.end is not None and cut.end <= ONSET + 100
    assert crash.services == ["e-albania"]
    assert crash.cause is Cause.SERVICE_FAILURE
    assert all(c.cause is not Cause.ROUTE_WITHDRAWAL for c in crash.cause_history)


def cut_then_names_fail(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The gov network is cut from ONSET for 60 s (probes time out); 20 s after it came
    back (recovered, the incident still waiting out its resolve hold), the gov sites'
    names stop resolving (the zone's server answers SERVFAIL, which the stub resolver
    reports as a temporary failure: `dns_timeout` while resolving) for the rest of the run."""
    if not gov(target):
        return healthy(ts, vantage, target, rng)
    if ONSET <= ts < ONSET + 60:
        return SILENT
    if ts >= ONSET + 80:
        return Probe(Outcome.DNS_TIMEOUT, None, phase=Phase.RESOLVE)
    return healthy(ts, vantage, target, rng)


def test_names_failing_after_a_cut_are_a_new_incident() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(cut_then_names_fail, end=ONSET + 300))
    detector.flush()
    outages = sorted((i for i in detector.incidents() if i.vantage is None), key=lambda i: i.start)
    assert len(outages) == 2, [(i.cause, i.services, i.start, i.end) for i in outages]
    cut, names = outages
    assert cut.cause is Cause.SHUTDOWN
    assert cut.end is not None and cut.end <= ONSET + 80
    assert set(names.services) == {"e-albania", "pm-office", "parliament"}
    assert names.start >= ONSET + 80
    assert all(c.cause is Cause.DNS_FAILURE for c in names.cause_history), names.cause_history


def test_a_name_that_does_not_resolve_is_a_dns_failure_whatever_the_resolver_said() -> None:
    from netvigil.detect.signature import result_family

    # A web probe whose name does not resolve: the zone's name server failed.
    assert result_family("http", "resolve", "dns_timeout") == "dns"
    assert result_family("http", "resolve", "dns_servfail") == "dns"
    # A DNS query to the server itself that times out: the server is unanswered.
    assert result_family("dns", "resolve", "dns_timeout") == "unanswered"
    assert result_family("http", "connect", "tcp_timeout") == "unanswered"


BACK_AT = ONSET + 90.0


def dead_then_outage_then_back(
    ts: float, vantage: str, target: str, rng: random.Random
) -> Probe | None:
    """As `dead_then_outage`, but `us` gets its link back at ONSET + 90 s, while the gov
    network is still cut: from then on it sees the cut too."""
    if vantage == "us" and ONSET - 120 <= ts < BACK_AT:
        return SILENT
    return dead_then_outage(ts, "de" if vantage == "us" else vantage, target, rng)


def test_a_vantage_back_from_its_own_outage_does_not_date_the_others_back() -> None:
    # `us`'s paths to the gov sites have failed since its own link went (ONSET - 120);
    # once it is back and sees the cut, that is not when the cut began.
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(dead_then_outage_then_back, end=ONSET + 300))
    detector.flush()
    [outage] = [i for i in detector.incidents() if i.vantage is None]
    assert set(outage.services) == {"e-albania", "pm-office", "parliament"}
    assert "us" in outage.vantages
    assert ONSET <= outage.start < ONSET + 10, outage.start - ONSET
    assert outage.cause is not Cause.VANTAGE_PROBLEM


def test_a_vantage_back_from_its_own_outage_does_not_speak_for_the_window_before() -> None:
    # Its probes timed out for 2 minutes before the cut, from its own trouble: read as
    # the cut's "loss before the onset", they would look like a flood coming.
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(dead_then_outage_then_back, end=ONSET + 200))
    [tracked] = [t for t in detector.book.open_tracked() if t.incident.vantage is None]
    window = detector.evidence.window(
        tracked, now=ONSET + 200, views=detector._views, maintenance=None
    )
    assert "us" in tracked.incident.vantages
    assert window.features.loss_pre == 0.0, window.features.loss_pre


NEWS_HTTPS, NEWS_TCP = target_name("news"), "news-tcp"


def certificate_then_cut(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The news site's certificate has expired from ONSET to ONSET + 60 s (its HTTPS probe
    fails, its TCP connect answers); from ONSET + 80 s its host refuses connections, seen
    first by the TCP probe (the HTTPS probe from ONSET + 100 s)."""
    if target == NEWS_HTTPS and ONSET <= ts < ONSET + 60:
        return Probe(Outcome.TLS_CERT_EXPIRED, None, phase=Phase.TLS)
    if (target == NEWS_TCP and ts >= ONSET + 80) or (target == NEWS_HTTPS and ts >= ONSET + 100):
        return Probe(Outcome.TCP_REFUSED, None, phase=Phase.CONNECT)
    return healthy(ts, vantage, target, rng)


def test_another_probe_of_the_service_failing_in_another_way_after_recovery_is_a_new_incident() -> (
    None
):
    # When the connections are refused the certificate's incident has recovered but waits
    # out its resolve hold (5 intervals). The TCP probe, which the certificate never failed,
    # fails now: it does not join the old incident because it probes the same service.
    world = World(second_probe=("news",))
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(certificate_then_cut, end=ONSET + 300))
    detector.flush()
    outages = [i for i in detector.incidents() if i.vantage is None]
    assert [i.services for i in outages] == [["news"], ["news"]], outages
    first, second = sorted(outages, key=lambda i: i.start)
    assert first.cause is Cause.TLS_FAILURE
    assert first.end is not None and first.end < ONSET + 80
    assert second.start >= ONSET + 80
    assert second.cause is not Cause.TLS_FAILURE
