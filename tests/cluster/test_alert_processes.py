"""Two `netvigil notify` processes sharing the alerting, a real NATS bus and a real
webhook receiver on loopback.

N incident events give exactly N alerts (not 2N). With one alerter killed (SIGKILL)
while it works, every event is still alerted, and an alert is sent twice only if the
killed alerter had it in hand (`--max-in-flight` bounds that).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from cluster_nats import NATSServerProcess
from web_processes import (
    eventually,
    incident_event,
    start_process,
    stop_process,
    wait_for_log,
    write_config,
)

from netvigil.bus import publish_incident_event
from netvigil.bus.streams import ensure_streams
from netvigil.bus.subjects import StreamNames
from netvigil.incident import EventKind
from notify.helpers import SECRET, Receiver, serving_receiver

READY = re.compile(r"alerting on NETVIGIL_INCIDENTS")
IN_FLIGHT = 2


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 checking signatures (POST /hook)."""
    async with serving_receiver() as rec:
        yield rec


def alerted(receiver: Receiver) -> Counter[str]:
    """How many alerts each incident got."""
    return Counter(d.json["incident"]["id"] for d in receiver.deliveries)


async def test_two_alerters_alert_each_event_once_and_lose_nothing_when_one_is_killed(
    nats_server: NATSServerProcess, receiver: Receiver, tmp_path: Path
) -> None:
    notify = f'[[notify]]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "{SECRET}"'
    config = write_config(
        tmp_path / "netvigil.toml",
        nats_url=nats_server.url,
        dsn="postgresql://netvigil@127.0.0.1:9/unused",  # an alerter never opens the store
        extra=notify,
    )
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_streams(js, StreamNames())
    args = ["notify", "-c", str(config), "--ack-wait", "2", "--max-in-flight", str(IN_FLIGHT)]
    logs = [tmp_path / "alerter-a.log", tmp_path / "alerter-b.log"]
    alerters = [start_process(args, log) for log in logs]
    try:
        for process, log in zip(alerters, logs, strict=True):
            await wait_for_log(process, log, READY, 60)

        first = [f"inc-{i:02d}" for i in range(8)]
        for incident_id in first:
            event = incident_event(incident_id, EventKind.CONFIRMED, ts=time.time())
            await publish_incident_event(js, event)
        await eventually(lambda: len(receiver.deliveries) >= len(first), 20, "8 alerts")
        await asyncio.sleep(0.5)  # anything sent twice would have come by now
        assert alerted(receiver) == Counter(dict.fromkeys(first, 1))

        receiver.delay_s = 3.0  # sends hang a while: the kill lands while alerts are in hand
        second = [f"inc-{i:02d}" for i in range(8, 24)]
        for incident_id in second:
            event = incident_event(incident_id, EventKind.CONFIRMED, ts=time.time())
            await publish_incident_event(js, event)
        # Each alerter has at most IN_FLIGHT sends open: this many means both are full.
        full = len(first) + 2 * IN_FLIGHT
        await eventually(lambda: receiver.requests >= full, 30, "both alerters at work")
        os.killpg(alerters[0].pid, signal.SIGKILL)
        alerters[0].wait(timeout=10)
        receiver.delay_s = 0.0
        everything = first + second
        await eventually(
            lambda: set(alerted(receiver)) == set(everything), 40, "every incident alerted"
        )
        await asyncio.sleep(1.0)  # a late second alert would show by now
    finally:
        codes = [stop_process(p) for p in alerters]
        await nc.close()
    counts = alerted(receiver)
    doubled = {i: n for i, n in counts.items() if n > 1}
    assert set(counts) == set(first + second)
    assert sum(counts.values()) - len(counts) <= IN_FLIGHT, f"sent twice: {doubled}"
    assert codes[1] == 0
    survivor = logs[1].read_text()
    taken = re.search(r"(\d+) message\(s\) taken over from another alerter", survivor)
    assert taken is not None and int(taken.group(1)) >= 1, "the killed alerter's messages"
    assert receiver.bad_signatures == 0
