"""Batches on the bus: the pull fetch (BatchPuller) and the acked publish (BatchAcks)
against a real nats-server on loopback, and the encoding of a measurement's body."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, StreamConfig
from nats_harness import free_port, make_measurements

from netvigil.bus import NATSServer, encode_measurement, write_server_config
from netvigil.bus.pubacks import BatchAcks, StreamRefused
from netvigil.bus.pull import BatchPuller
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NATSServer]:
    """One nats-server with JetStream and no users for the module's tests."""
    tmp = tmp_path_factory.mktemp("nats")
    port = free_port()
    conf = write_server_config(tmp / "nats.conf", port=port, store_dir=tmp / "js", users=[])
    with NATSServer(conf, port=port, log_path=tmp / "nats.log") as server:
        yield server


@pytest.fixture
async def nc(open_server: NATSServer) -> AsyncIterator[Client]:
    client = await nats.connect(open_server.url)
    try:
        yield client
    finally:
        await client.close()


async def _stream(nc: Client, name: str, **options: object) -> str:
    """A new stream `name` on `name.>` with a durable pull consumer "c"."""
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], **options))
    config = ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, ack_wait=30)
    await js.add_consumer(name, config)
    return name


async def _publish(nc: Client, stream: str, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        await nc.publish(f"{stream}.m", str(i).encode(), headers={"Nats-Msg-Id": f"m{i}"})
    await nc.flush()


async def test_a_fetch_takes_a_full_batch_at_once_and_the_rest_when_its_wait_ends(
    nc: Client,
) -> None:
    stream = await _stream(nc, "PULL_A")
    await _publish(nc, stream, 30)
    puller = await BatchPuller.open(nc, stream=stream, durable="c")
    started = time.monotonic()
    first = await puller.fetch(20, wait_s=5.0)
    assert time.monotonic() - started < 2.5  # the batch was full: no waiting
    started = time.monotonic()
    rest = await puller.fetch(20, wait_s=0.5)
    waited = time.monotonic() - started
    assert [m.data for m in first + rest] == [str(i).encode() for i in range(30)]
    assert 0.3 < waited < 3.0  # ten there, then the request waited out its time
    info = await nc.jetstream().consumer_info(stream, "c")
    assert info.num_waiting == 0  # no request left behind on the server
    assert info.num_ack_pending == 30 and info.num_pending == 0
    for m in first + rest:
        await m.ack()
    assert first[0].metadata.sequence.stream == 1
    await puller.close()


async def test_a_waiting_fetch_takes_what_comes_meanwhile_and_nothing_after(
    nc: Client,
) -> None:
    stream = await _stream(nc, "PULL_B")
    puller = await BatchPuller.open(nc, stream=stream, durable="c")
    started = time.monotonic()
    assert await puller.fetch(5, wait_s=0.3) == []
    assert time.monotonic() - started >= 0.25
    waiting = asyncio.ensure_future(puller.fetch(5, wait_s=5.0))
    await asyncio.sleep(0.1)
    await _publish(nc, stream, 8)  # while the fetch waits
    got = await asyncio.wait_for(waiting, 3.0)
    assert [m.data for m in got] == [str(i).encode() for i in range(5)]  # the batch filled
    info = await nc.jetstream().consumer_info(stream, "c")
    assert info.num_ack_pending == 5 and info.num_pending == 3 and info.num_waiting == 0
    more = await puller.fetch(5, wait_s=0.3)
    assert [m.data for m in more] == [str(i).encode() for i in range(5, 8)]
    await puller.close()


async def test_batch_acks_count_stored_and_duplicate_messages(nc: Client) -> None:
    stream = await _stream(nc, "ACKS_A", duplicate_window=60.0)
    acks = await BatchAcks.open(nc)
    batch = [(f"{stream}.m", str(i).encode(), f"id-{i}") for i in range(50)]
    assert await acks.publish(batch, timeout_s=5.0) == (50, 0)
    again = [*batch[40:], (f"{stream}.m", b"new", "id-new")]
    assert await acks.publish(again, timeout_s=5.0) == (1, 10)
    assert await acks.publish([], timeout_s=5.0) == (0, 0)
    info = await nc.jetstream().stream_info(stream)
    assert info.state.messages == 51
    await acks.close()


async def test_batch_acks_refuse_a_batch_the_stream_refuses_or_nobody_takes(
    nc: Client,
) -> None:
    stream = await _stream(nc, "ACKS_B", max_msgs=3, discard=DiscardPolicy.NEW)
    acks = await BatchAcks.open(nc)
    batch = [(f"{stream}.m", b"x", f"id-{i}") for i in range(5)]
    with pytest.raises(StreamRefused, match="the stream refused a message"):
        await acks.publish(batch, timeout_s=5.0)
    with pytest.raises(StreamRefused, match="no responders"):
        await acks.publish([("nowhere.at.all", b"x", "id-x")], timeout_s=5.0)
    await acks.close()


async def test_answers_to_a_batch_that_timed_out_do_not_count_for_the_next(
    nc: Client,
) -> None:
    stream = await _stream(nc, "ACKS_C")
    acks = await BatchAcks.open(nc)
    first = [(f"{stream}.m", b"x", f"first-{i}") for i in range(200)]
    with pytest.raises(TimeoutError):
        await acks.publish(first, timeout_s=1e-9)  # times out before any answer
    second = [(f"{stream}.m", b"y", f"second-{i}") for i in range(3)]
    assert await acks.publish(second, timeout_s=5.0) == (3, 0)
    info = await nc.jetstream().stream_info(stream)
    assert info.state.messages == 203  # the first batch was sent all the same
    await acks.close()


def _standard(m: Measurement) -> bytes:
    return json.dumps(m.to_json(), separators=(",", ":"), default=str).encode()


def test_a_measurement_body_is_what_the_standard_encoder_writes(tmp_path: Path) -> None:
    base = make_measurements(1)[0]
    bodies = [
        base,
        Measurement(
            id="01JX",
            ts=1.5,
            vantage="tirana",
            target="portal",
            kind="http",
            ok=False,
            outcome=Outcome.TCP_REFUSED,
            phase=Phase.CONNECT,
            timings={"connect": 0.25, "total": 1e-7},
            detail={"error": "null pointer: é", "codes": [1, 2.5, None], "nested": {"a": True}},
            address="192.0.2.1",
        ),
        Measurement(
            id="02JX",
            ts=2.0,
            vantage="tirana",
            target="portal",
            kind="tcp",
            ok=True,
            outcome=Outcome.OK,
            timings={"total": math.inf, "other": math.nan},
            detail={"path": tmp_path, 7: "int key"},
        ),
    ]
    for m in bodies:
        assert encode_measurement(m) == _standard(m)
    assert b"Infinity" in encode_measurement(bodies[2])  # not null: the value is kept
