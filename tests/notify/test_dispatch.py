"""The dispatcher: which events become alerts, and delivery that never blocks detection."""

from __future__ import annotations

import asyncio
import time

from netvigil.cause import Cause
from netvigil.config import parse_config
from netvigil.errors import NotifyError
from netvigil.incident import EventKind, IncidentEvent, IncidentState
from netvigil.notify import AlertDispatcher, AlertPolicy, WebhookNotifier

from .helpers import SECRET, Receiver, bound_socket, make_event


def webhook(url: str, name: str = "hook", **kwargs: float) -> WebhookNotifier:
    options = {"timeout_s": 2.0, "backoff_s": 0.01, "max_attempts": 2.0}
    options.update(kwargs)
    return WebhookNotifier(
        url,
        secret=SECRET,
        name=name,
        timeout_s=options["timeout_s"],
        backoff_s=options["backoff_s"],
        max_attempts=int(options["max_attempts"]),
    )


def kinds(receiver: Receiver) -> list[tuple[str, str, str]]:
    return [
        (d.json["kind"], d.json["incident"]["id"], d.json["incident"]["cause"])
        for d in receiver.deliveries
    ]


class Exploding:
    """A notifier with a bug: it raises something that is not a NotifyError."""

    name = "exploding"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, event: IncidentEvent) -> None:
        self.calls += 1
        raise RuntimeError("bug in a notifier")


async def test_same_incident_kind_and_cause_is_sent_once(receiver: Receiver) -> None:
    dispatcher = AlertDispatcher([(webhook(receiver.url), AlertPolicy(quiet_period_s=0))])
    async with dispatcher:
        dispatcher.submit(make_event(EventKind.CONFIRMED))
        dispatcher.submit(make_event(EventKind.CONFIRMED))
        # A "change" back to the cause already announced says nothing new.
        dispatcher.submit(make_event(EventKind.CAUSE_CHANGED, cause=Cause.SHUTDOWN))
        dispatcher.submit(make_event(EventKind.CAUSE_CHANGED, cause=Cause.VOLUMETRIC_DDOS))
        dispatcher.submit(make_event(EventKind.CAUSE_CHANGED, cause=Cause.VOLUMETRIC_DDOS))
        dispatcher.submit(make_event(EventKind.RESOLVED, cause=Cause.VOLUMETRIC_DDOS))
        dispatcher.submit(make_event(EventKind.RESOLVED, cause=Cause.VOLUMETRIC_DDOS))
        assert await dispatcher.wait_idle(5)
    assert kinds(receiver) == [
        ("confirmed", "inc-1", "shutdown"),
        ("cause_changed", "inc-1", "volumetric_ddos"),
        ("resolved", "inc-1", "volumetric_ddos"),
    ]
    stats = dispatcher.stats()["hook"]
    assert (stats.submitted, stats.sent, stats.skipped["duplicate"]) == (7, 3, 4)


async def test_quiet_period_holds_the_latest_change_and_lets_resolve_through(
    receiver: Receiver,
) -> None:
    quiet = 0.4
    dispatcher = AlertDispatcher([(webhook(receiver.url), AlertPolicy(quiet_period_s=quiet))])
    async with dispatcher:
        started = time.monotonic()
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="a"))
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="b"))
        # Two changes inside the quiet period: only the latest goes out, after it ends.
        dispatcher.submit(
            make_event(EventKind.CAUSE_CHANGED, incident_id="a", cause=Cause.VOLUMETRIC_DDOS)
        )
        dispatcher.submit(
            make_event(EventKind.CAUSE_CHANGED, incident_id="a", cause=Cause.APPLICATION_DDOS)
        )
        # Resolve is never held back, and drops what was held for its incident.
        dispatcher.submit(
            make_event(EventKind.CAUSE_CHANGED, incident_id="b", cause=Cause.ROUTE_WITHDRAWAL)
        )
        dispatcher.submit(make_event(EventKind.RESOLVED, incident_id="b"))
        await receiver.wait_for(3)
        assert time.monotonic() - started < quiet
        assert kinds(receiver) == [
            ("confirmed", "a", "shutdown"),
            ("confirmed", "b", "shutdown"),
            ("resolved", "b", "shutdown"),
        ]
        await receiver.wait_for(4)
        assert time.monotonic() - started >= quiet * 0.9
    assert kinds(receiver)[3] == ("cause_changed", "a", "application_ddos")
    stats = dispatcher.stats()["hook"]
    assert stats.held == 2
    assert stats.skipped["superseded"] == 2
    assert stats.sent == 4


async def test_maintenance_and_unwanted_events_are_not_sent(receiver: Receiver) -> None:
    policy = AlertPolicy(quiet_period_s=0)
    dispatcher = AlertDispatcher([(webhook(receiver.url), policy)])
    async with dispatcher:
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="planned", quiet=True))
        dispatcher.submit(make_event(EventKind.RESOLVED, incident_id="planned", quiet=True))
        dispatcher.submit(make_event(EventKind.OPENED, incident_id="new"))
        # Never announced (only opened, which this route does not send): no all-clear.
        dispatcher.submit(make_event(EventKind.RESOLVED, incident_id="new"))
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="real"))
        assert await dispatcher.wait_idle(5)
    assert kinds(receiver) == [("confirmed", "real", "shutdown")]
    skipped = dispatcher.stats()["hook"].skipped
    assert skipped == {"quiet": 2, "not_wanted": 1, "unannounced": 1}


async def test_confirmation_waits_for_min_confidence(receiver: Receiver) -> None:
    policy = AlertPolicy(min_confidence=0.6, quiet_period_s=0)
    dispatcher = AlertDispatcher([(webhook(receiver.url), policy)])
    async with dispatcher:
        dispatcher.submit(make_event(EventKind.CONFIRMED, cause=Cause.UNKNOWN, confidence=0.3))
        assert await dispatcher.wait_idle(5)
        assert receiver.deliveries == []
        # A later update that reaches the bar is the route's first word: CONFIRMED.
        dispatcher.submit(make_event(EventKind.UPDATED, confidence=0.7))
        assert await dispatcher.wait_idle(5)
    assert kinds(receiver) == [("confirmed", "inc-1", "shutdown")]
    assert receiver.deliveries[0].json["incident"]["state"] == IncidentState.CONFIRMED.value
    assert dispatcher.stats()["hook"].skipped["low_confidence"] == 1


async def test_slow_receiver_does_not_block_submit_and_overflow_drops_oldest(
    receiver: Receiver,
) -> None:
    receiver.delay_s = 0.3
    dispatcher = AlertDispatcher(
        [(webhook(receiver.url), AlertPolicy(quiet_period_s=0))], queue_size=3
    )
    await dispatcher.start()
    events = [make_event(EventKind.CONFIRMED, incident_id=f"i{n}") for n in range(20)]
    dispatcher.submit(events[0])
    await asyncio.sleep(0.05)  # the first is now in flight at the slow receiver
    started = time.perf_counter()
    for e in events[1:]:
        dispatcher.submit(e)
    spent = time.perf_counter() - started
    assert spent < 0.05  # 19 submits while the receiver sleeps: no waiting on it
    assert receiver.deliveries == []
    stats = dispatcher.stats()["hook"]
    assert stats.dropped == 19 - 3
    assert dispatcher.queue_depth() == 3
    await dispatcher.stop(drain_timeout_s=5)
    # The oldest were dropped: the first (in flight) and the newest three arrived.
    assert [k[1] for k in kinds(receiver)] == ["i0", "i17", "i18", "i19"]
    assert stats.sent == 4


async def test_a_failing_notifier_does_not_stop_the_others(receiver: Receiver) -> None:
    sock = bound_socket()
    dead_port = sock.getsockname()[1]
    sock.close()
    dead = webhook(f"http://127.0.0.1:{dead_port}/hook", name="dead", max_attempts=2)
    exploding = Exploding()
    policy = AlertPolicy(quiet_period_s=0)
    dispatcher = AlertDispatcher(
        [(dead, policy), (exploding, policy), (webhook(receiver.url, name="good"), policy)]
    )
    async with dispatcher:
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="x"))
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="y"))
        assert await dispatcher.wait_idle(5)
    assert [k[1] for k in kinds(receiver)] == ["x", "y"]
    stats = dispatcher.stats()
    assert (stats["dead"].failed, stats["dead"].sent) == (2, 0)
    assert stats["dead"].last_error is not None
    assert "gave up after 2 attempt(s)" in stats["dead"].last_error
    assert (stats["exploding"].failed, exploding.calls) == (2, 2)
    assert stats["good"].sent == 2
    totals = dispatcher.totals()
    assert (totals.sent, totals.failed) == (2, 4)


async def test_stop_gives_up_on_a_stuck_notifier_within_the_drain_timeout(
    receiver: Receiver,
) -> None:
    receiver.delay_s = 0.7
    dispatcher = AlertDispatcher([(webhook(receiver.url), AlertPolicy(quiet_period_s=0))])
    await dispatcher.start()
    for n in range(3):
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id=f"s{n}"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await dispatcher.stop(drain_timeout_s=0.2)
    assert time.monotonic() - started < 1.0  # draining all three would take 2.1 s
    stats = dispatcher.stats()["hook"]
    assert stats.abandoned == 3  # one cancelled in flight, two never left the queue
    assert stats.sent == 0
    assert dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="late")) == 0
    assert stats.skipped["stopped"] == 1


async def test_from_config_builds_signed_webhooks_with_their_policies(
    receiver: Receiver,
) -> None:
    config = parse_config(
        f"""
        [[notify]]
        kind = "webhook"
        name = "ops"
        url = "{receiver.url}"
        secret_env = "NV_TEST_WEBHOOK_SECRET"
        events = ["opened", "confirmed", "resolved"]
        quiet_period_s = 0
        backoff_s = 0.01
        """
    )
    dispatcher = AlertDispatcher.from_config(config, env={"NV_TEST_WEBHOOK_SECRET": SECRET})
    async with dispatcher:
        dispatcher.submit(make_event(EventKind.OPENED))
        dispatcher.submit(make_event(EventKind.CONFIRMED))
        dispatcher.submit(make_event(EventKind.CAUSE_CHANGED, cause=Cause.VOLUMETRIC_DDOS))
        dispatcher.submit(make_event(EventKind.RESOLVED))
        assert await dispatcher.wait_idle(5)
    assert [k[0] for k in kinds(receiver)] == ["opened", "confirmed", "resolved"]
    assert receiver.bad_signatures == 0
    assert dispatcher.stats()["ops"].skipped["not_wanted"] == 1


async def test_send_timeout_bounds_a_notifier_that_never_returns() -> None:
    class Hanging:
        name = "hanging"

        async def send(self, event: IncidentEvent) -> None:
            await asyncio.sleep(30)
            raise NotifyError("unreachable")

    dispatcher = AlertDispatcher([(Hanging(), AlertPolicy(quiet_period_s=0))], send_timeout_s=0.1)
    async with dispatcher:
        dispatcher.submit(make_event())
        assert await dispatcher.wait_idle(2)
    stats = dispatcher.stats()["hanging"]
    assert stats.failed == 1
    assert stats.last_error == "notify hanging: no answer within 0.1 s"


async def test_confirmation_after_opened_is_not_held_by_the_quiet_period(
    receiver: Receiver,
) -> None:
    policy = AlertPolicy(
        events=frozenset({EventKind.OPENED, EventKind.CONFIRMED, EventKind.CAUSE_CHANGED}),
        quiet_period_s=60,
    )
    dispatcher = AlertDispatcher([(webhook(receiver.url), policy)])
    async with dispatcher:
        dispatcher.submit(make_event(EventKind.OPENED, cause=Cause.UNKNOWN, confidence=0.0))
        dispatcher.submit(make_event(EventKind.CONFIRMED))
        dispatcher.submit(make_event(EventKind.CAUSE_CHANGED, cause=Cause.VOLUMETRIC_DDOS))
        assert await dispatcher.wait_idle(5)
        assert [k[0] for k in kinds(receiver)] == ["opened", "confirmed"]
        assert dispatcher.stats()["hook"].held == 1
    assert dispatcher.stats()["hook"].abandoned == 1


async def test_a_provisional_cause_change_is_not_sent(receiver: Receiver) -> None:
    policy = AlertPolicy(quiet_period_s=0)
    dispatcher = AlertDispatcher([(webhook(receiver.url), policy)])
    suspected = make_event(EventKind.CAUSE_CHANGED, incident_id="early", cause=Cause.SHUTDOWN)
    suspected.incident.state = IncidentState.SUSPECTED
    suspected.incident.confirmed_at = None
    async with dispatcher:
        dispatcher.submit(suspected)
        dispatcher.submit(make_event(EventKind.CONFIRMED, incident_id="early"))
        assert await dispatcher.wait_idle(5)
    assert kinds(receiver) == [("confirmed", "early", "shutdown")]
    assert dispatcher.stats()["hook"].skipped == {"not_wanted": 1}
