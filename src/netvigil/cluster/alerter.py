"""The alerter role: incident events off the incidents stream, alerted once, by one of
several processes.

    await run_alerter(config, nc, stop, AlerterSettings(), routes=alert_routes(config))

Every alerter binds to one shared durable pull consumer of the incidents stream
(`netvigil-notify`): the server hands each message to one of them (a work queue), and
delivers it again, to whichever alerter asks, if it is not acked within the consumer's
ack wait (renewed while the message is worked on). An alerter acks a message only once
`SharedAlerts.handle` is done with it: its alerts were sent (or failed, after the
notifier's own retries, as in `netvigil run`), or none was due. A message held by a
quiet period stays unacked until the period ends; an alerter that stops leaves it to
the others. A message that is not an incident event is terminated (never redelivered).
Maintenance mutes set through any web's admin API reach every alerter as they are set
(`netvigil.cluster.mute_sync`): an event of an incident whose every target is muted is
handled as quiet (no alert), even if its detector judged it before the mute reached it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from netvigil.bus.incident_reader import decode_incident_event
from netvigil.bus.incidents import incident_event_id
from netvigil.bus.subjects import MSG_ID_HEADER
from netvigil.cluster.alert_memory import AlertMemory, IncidentAlerts
from netvigil.cluster.membership import ClusterError
from netvigil.cluster.mute_sync import MuteFeed, MuteTable
from netvigil.cluster.shared_alerts import AlerterStats, SharedAlerts
from netvigil.config.model import Config
from netvigil.incident import IncidentEvent
from netvigil.notify.route import Route
from netvigil.notify.webhook import redact_url

__all__ = [
    "NOTIFY_DURABLE",
    "AlerterSettings",
    "earlier_events_handled",
    "ensure_alert_consumer",
    "run_alerter",
]

log = logging.getLogger(__name__)

NOTIFY_DURABLE = "netvigil-notify"
"""The durable consumer the alerters share."""


@dataclass(frozen=True, slots=True)
class AlerterSettings:
    """How an alerter reads the stream."""

    durable: str = NOTIFY_DURABLE
    ack_wait_s: float = 30.0
    """A message not acked (nor kept in progress) this long goes to another alerter."""
    batch_size: int = 16
    fetch_wait_s: float = 1.0
    max_in_flight: int = 256
    """Messages this process holds at once (held ones included): it fetches no more."""
    max_ack_pending: int = 10_000
    drain_timeout_s: float = 5.0
    backoff_max_s: float = 5.0


async def ensure_alert_consumer(
    js: JetStreamContext, stream: str, settings: AlerterSettings
) -> None:
    """Create the shared durable consumer, or bring its ack settings up to date. A new one
    starts with the events published from now on (not the stream's history)."""
    config = ConsumerConfig(
        durable_name=settings.durable,
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
    )
    await js.add_consumer(stream, config)


async def earlier_events_handled(
    js: JetStreamContext,
    stream: str,
    durable: str,
    msg: Msg,
    record: IncidentAlerts,
) -> bool:
    """Whether every earlier message on `msg`'s subject (the same incident) is judged:
    none lies between the newest judged (`record.admitted_seq`) or the consumer's ack
    floor, whichever is later, and `msg`. Raises nats errors."""
    seq = msg.metadata.sequence.stream
    info = await js.consumer_info(stream, durable)
    floor = info.ack_floor.stream_seq if info.ack_floor is not None else None
    at = max(floor or 0, record.admitted_seq) + 1
    while at < seq:
        try:
            earlier = await js.get_msg(stream, seq=at, subject=msg.subject, next=True)
        except NotFoundError:
            return True
        if earlier.seq is None or earlier.seq >= seq:
            return True
        event_id = (earlier.headers or {}).get(MSG_ID_HEADER)
        if event_id is not None and event_id not in record.handled:
            return False
        at = earlier.seq + 1
    return True


async def run_alerter(
    config: Config,
    nc: Client,
    stop: asyncio.Event,
    settings: AlerterSettings,
    *,
    routes: Sequence[Route],
    stats: AlerterStats | None = None,
    clock: Callable[[], float] = time.time,
) -> AlerterStats:
    """Alert on the incidents stream until `stop` is set. Raises ClusterError when the
    consumer or the memory bucket cannot be set up."""
    stats = stats if stats is not None else AlerterStats()
    bus = config.bus
    js = nc.jetstream()
    try:
        await ensure_alert_consumer(js, bus.incidents_stream, settings)
        sub = await js.pull_subscribe_bind(settings.durable, stream=bus.incidents_stream)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise ClusterError(
            f"{redact_url(bus.url)}: cannot set up {settings.durable}: {exc!r}"
        ) from exc
    memory = await AlertMemory.open(js, ttl_s=bus.max_age_days * 86_400.0 + 86_400.0)
    alerts = SharedAlerts(routes, memory, stats=stats, clock=clock)
    mutes, feed = MuteTable(), await MuteFeed.open(js)
    feed.follow(mutes, snapshot=True)

    def quieted(event: IncidentEvent) -> IncidentEvent:
        return mutes.quieted(event, clock())

    try:
        await _alert(alerts, sub, js, bus.incidents_stream, settings, stop, quieted)
    finally:
        await feed.close()
    return stats


async def _alert(
    alerts: SharedAlerts,
    sub: JetStreamContext.PullSubscription,
    js: JetStreamContext,
    stream: str,
    settings: AlerterSettings,
    stop: asyncio.Event,
    quieted: Callable[[IncidentEvent], IncidentEvent],
) -> None:
    """Fetch the events and handle each in a task of its own until `stop`."""
    working: set[asyncio.Task[None]] = set()
    failures = 0
    while not stop.is_set():
        room = settings.max_in_flight - len(working)
        if room <= 0:  # as many messages in hand as allowed: fetch no more until one ends
            await asyncio.wait(working, timeout=settings.fetch_wait_s)
            continue
        try:
            msgs = await sub.fetch(min(room, settings.batch_size), timeout=settings.fetch_wait_s)
            failures = 0
        except TimeoutError:
            continue
        except (nats.errors.Error, OSError) as exc:
            failures += 1
            delay = min(settings.backoff_max_s, 0.2 * 2.0 ** min(failures - 1, 10))
            log.warning("alerter: NATS unavailable (%s); again in %.1f s", exc, delay)
            await _sleep(stop, delay)
            continue
        for msg in msgs:
            task = asyncio.create_task(_take(alerts, msg, js, stream, settings, stop, quieted))
            working.add(task)
            task.add_done_callback(working.discard)
    await _drain(working, settings.drain_timeout_s)


async def _take(
    alerts: SharedAlerts,
    msg: Msg,
    js: JetStreamContext,
    stream: str,
    settings: AlerterSettings,
    stop: asyncio.Event,
    quieted: Callable[[IncidentEvent], IncidentEvent],
) -> None:
    """Handle one message to its end and ack it; unacked if anything fails or `stop`.
    `quieted` makes the event quiet if its targets are muted now."""
    stats = alerts.stats
    stats.received += 1
    if msg.metadata.num_delivered > 1:
        stats.taken_over += 1
    try:
        event = quieted(decode_incident_event(msg.data))
    except ValueError as exc:
        stats.malformed += 1
        log.warning("alerter: skipped a message on %s: %s", msg.subject, exc)
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await msg.term()
        return
    event_id = (msg.headers or {}).get(MSG_ID_HEADER) or incident_event_id(event)
    keeper = asyncio.create_task(_keep_in_progress(msg, settings.ack_wait_s / 3))

    async def wait(seconds: float) -> None:
        if await _sleep(stop, seconds):
            raise _Stopped

    async def ready(record: IncidentAlerts) -> bool:
        return await earlier_events_handled(js, stream, settings.durable, msg, record)

    try:
        record, _ = await alerts.memory.load(event.incident.id)
        before = record.handled.get(event_id)
        if before is not None and before.state == "done":
            stats.redelivered_done += 1
        elif before is not None and before.state == "pending":
            stats.resent += len(before.kinds)
        seq = msg.metadata.sequence.stream
        await alerts.handle(event, event_id, wait=wait, ready=ready, seq=seq)
        await msg.ack_sync(timeout=5)
        stats.acked += 1
    except _Stopped:
        return  # held when stopping: another alerter takes it over after the ack wait
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        log.warning("alerter: event %s not done (%s); it comes again", event_id, exc)
    except Exception:  # a bug: logged; the message stays unacked and comes again
        log.exception("alerter: event %s not done", event_id)
    finally:
        keeper.cancel()


class _Stopped(Exception):
    """Stopping while an event is held."""


async def _keep_in_progress(msg: Msg, every_s: float) -> None:
    """Renew the message's ack wait while it is worked on (a send, a quiet period)."""
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await msg.in_progress()


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop`; whether `stop` came."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _drain(tasks: set[asyncio.Task[None]], timeout_s: float) -> None:
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=timeout_s)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
