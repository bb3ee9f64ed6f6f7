"""The HTTP probe against a hostile server: every reply ends in a named outcome, in time.

hypothesis builds the replies a broken or malicious server might send: malformed status
lines and headers, heads over the 64 KiB limit or without end, bad chunk sizes, truncated
chunked bodies, slow drips, early closes, silence, garbage, HTTP/0.9 replies, oversized
bodies and Content-Length mismatches. For each, on asyncio and on uvloop, the probe must
return (never raise) an outcome the case allows, within its timeout plus a margin, and
the memory it holds meanwhile (tracemalloc peak) must stay far below what the server
offers, whatever the server sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise

import hypothesis
import pytest
import uvloop
from hypothesis import given
from hypothesis import strategies as st

from netvigil.outcome import Outcome, Phase
from netvigil.probes.http_client import MAX_HEAD_BYTES

from .hostile import ENDED_EARLY, QUICK_S, WAIT_S, Ending, Reply, broken, probe_once, unfinished

MARGIN_S = 0.5  # past the target's timeout, the most a probe may take
DRIP_TIMEOUT_S = 1.0
DRIP_BAND_S = 0.3  # drips this close to their timeout may end either way
CAP = 8192  # max_body_bytes of the probed target
FLOOD_BYTES = 4 * 1024 * 1024  # what an endless head or body offers, at most
MEMORY_LIMIT = 1536 * 1024  # peak traced during one probe; far below FLOOD_BYTES
BLOCK = b"x" * 65536

STATUS = b"HTTP/1.1 200 OK\r\n"
CHUNKED_HEAD = STATUS + b"Transfer-Encoding: chunked\r\n\r\n"
ANY_ANSWER = frozenset(
    {
        Outcome.OK,
        Outcome.HTTP_4XX,
        Outcome.HTTP_5XX,
        Outcome.HTTP_CONTENT_MISMATCH,
        Outcome.HTTP_PROTOCOL_ERROR,
        Outcome.HTTP_TIMEOUT,
        Outcome.CONNECTION_RESET,
    }
)

BAD_STATUS_LINES = [
    b"HTTP/1.1 20 OK",
    b"HTTP/1.1 2000 OK",
    b"HTTP/1.1 abc OK",
    b"HTTP/1.1 -200 OK",
    b"HTTP/1.1  200 OK",
    b"HTTP/1.1\t200 OK",
    b"HTTP/1.1200 OK",
    b"HTTP/2.0 200 OK",
    b"HTTP/0.9 200 OK",
    b"HTTP/1.7 200 OK",
    b"HTTP/11 200 OK",
    b"HTTP /1.1 200 OK",
    b"http/1.1 200 OK",
    b" HTTP/1.1 200 OK",
    b"\r\nHTTP/1.1 200 OK",
    b"RTSP/1.0 200 OK",
    b"ICE/1.0 200 OK",
    b"HTTP/1.1 200 OK\n",
    b"HTTP/1.1 200 OK\r",
]
BAD_HEADER_LINES = [
    b"Bad Header: x",
    b"no-colon",
    b" X-Folded: y",
    b"X-A: a\r\n continued",
    b"X-Nul: a\x00b",
    b"X-Del: \x7f",
    b"X-LF-only: a\nX-B: b",
    b"Content-Length: abc",
    b"Content-Length: -1",
    b"Content-Length: 1, 2",
    b"Content-Length: 99999999999999999999999",
    b"Content-Length: 2\r\nContent-Length: 3",
    b"Transfer-Encoding: chunked\r\nContent-Length: 2",
]
BAD_CHUNKS = [
    b"\r\nhi\r\n",
    b"zz\r\nhi\r\n",
    b"-1\r\nhi\r\n",
    b"0x2\r\nhi\r\n",
    b"+2\r\nhi\r\n",
    b" 2\r\nhi\r\n",
    b"2 \r\nhi\r\n",
    b"1 2\r\nhi\r\n",
    b"2;\r\nhi\r\n",
    b"fffffffffffffffffffff\r\nhi\r\n",
    b"2\r\nhello\r\n",
    b"2\nhi\n",
]
HTTP09_REPLIES = [
    b"<html><body>It works!</body></html>\n",
    b"hello\r\n",
    b"\r\n\r\n",
    b"OK",
]


@dataclass(frozen=True)
class Message:
    """A valid response: its head, its body as sent (framed), and the body's length."""

    head: bytes
    framed_body: bytes
    body_len: int

    @property
    def data(self) -> bytes:
        return self.head + self.framed_body


def chunked(body: bytes, size: int) -> bytes:
    """`body` in chunks of `size` bytes, with the last chunk."""
    parts = [b"%x\r\n%s\r\n" % (len(part), part) for part in _pieces(body, size)]
    return b"".join(parts) + b"0\r\n\r\n"


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


def head_of_size(total: int) -> bytes:
    """A response head of exactly `total` bytes (at least 100) announcing a 2-byte body."""
    prefix = STATUS + b"Content-Length: 2\r\n"
    remaining = total - len(prefix) - 2
    lines = []
    while remaining:
        n = min(8000, remaining)
        if 0 < remaining - n < 11:  # leave room for one more whole line
            n = remaining - 11
        lines.append(b"X-Fill: " + b"a" * (n - 10) + b"\r\n")
        remaining -= n
    head = prefix + b"".join(lines) + b"\r\n"
    assert len(head) == total
    return head


endings = st.sampled_from(["close", "reset", "hang"])


@st.composite
def messages(draw: st.DrawFn) -> Message:
    body = draw(st.binary(max_size=CAP - 1))
    form = draw(st.sampled_from(["length", "chunked", "eof"]))
    if form == "length":
        return Message(STATUS + b"Content-Length: %d\r\n\r\n" % len(body), body, len(body))
    if form == "chunked":
        return Message(CHUNKED_HEAD, chunked(body, draw(st.integers(1, 2048))), len(body))
    return Message(b"HTTP/1.0 200 OK\r\n\r\n", body, len(body))


@st.composite
def malformed_status(draw: st.DrawFn) -> Reply:
    numbers = st.integers(0, 99) | st.integers(1000, 10**9)
    line = draw(st.sampled_from(BAD_STATUS_LINES) | numbers.map(lambda n: b"HTTP/1.1 %d X" % n))
    return broken("status line", draw(endings), line + b"\r\nContent-Length: 0\r\n\r\n")


@st.composite
def malformed_header(draw: st.DrawFn) -> Reply:
    line = draw(st.sampled_from(BAD_HEADER_LINES))
    return broken("header", draw(endings), STATUS + line + b"\r\n\r\nhi")


@st.composite
def head_sizes(draw: st.DrawFn) -> Reply:
    total = draw(st.integers(100, 140_000) | st.integers(MAX_HEAD_BYTES - 32, MAX_HEAD_BYTES + 32))
    data = head_of_size(total) + b"hi"
    if total <= MAX_HEAD_BYTES:
        ok = frozenset({Outcome.OK})
        return Reply("head within the limit", ok, (data,), body_bytes=2, truncated=False)
    return broken("head over the limit", draw(endings), data)


@st.composite
def endless_heads(draw: st.DrawFn) -> Reply:
    start, flood = draw(
        st.sampled_from(
            [
                (STATUS, (b"X-Endless: " + b"a" * 50 + b"\r\n") * 64),
                (STATUS + b"X-Endless: ", b"a" * 4096),
                (b"HTTP/1.1 200 ", b"O" * 4096),
                (b"", b"HTTP/1.1 100 Continue\r\n\r\n" * 128),
            ]
        )
    )
    return broken("endless head", draw(endings), start, flood=flood, flood_bytes=FLOOD_BYTES)


@st.composite
def bad_chunks(draw: st.DrawFn) -> Reply:
    valid_first = draw(st.booleans())
    chunk = draw(st.sampled_from(BAD_CHUNKS))
    body = (b"3\r\nabc\r\n" if valid_first else b"") + chunk + b"0\r\n\r\n"
    return broken("chunk", draw(endings), CHUNKED_HEAD + body)


@st.composite
def truncated_chunked(draw: st.DrawFn) -> Reply:
    body = draw(st.binary(max_size=CAP - 1))
    data = CHUNKED_HEAD + chunked(body, draw(st.integers(1, 2048)))
    cut = draw(st.integers(len(CHUNKED_HEAD), len(data) - 1))
    return unfinished("truncated chunked body", draw(endings), data[:cut])


@st.composite
def drips(draw: st.DrawFn) -> Reply:
    message = draw(messages())
    data = message.data
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data) - 1), max_size=12))))
    bounds = [0, *cuts, len(data)]
    pieces = tuple(data[a:b] for a, b in pairwise(bounds))
    gap_s = draw(st.sampled_from([0.0, 0.005, 0.02, 0.05, 0.15]))
    delay = gap_s * (len(pieces) - 1)
    expect = set()
    if delay < DRIP_TIMEOUT_S - DRIP_BAND_S:
        expect.add(Outcome.OK)
    elif delay > DRIP_TIMEOUT_S + DRIP_BAND_S:
        expect.add(Outcome.HTTP_TIMEOUT)
    else:
        expect |= {Outcome.OK, Outcome.HTTP_TIMEOUT}
    return Reply(
        "slow drip",
        frozenset(expect),
        pieces,
        gap_s=gap_s,
        timeout_s=DRIP_TIMEOUT_S,
        body_bytes=message.body_len,
        truncated=False,
    )


@st.composite
def early_closes(draw: st.DrawFn) -> Reply:
    message = draw(messages())
    cut = draw(st.integers(0, len(message.head) - 1))
    return unfinished("ended inside the head", draw(endings), message.head[:cut])


@st.composite
def silences(draw: st.DrawFn) -> Reply:
    ending: Ending = draw(endings)
    read_request = draw(st.booleans()) if ending == "reset" else True
    return unfinished("no response", ending, read_request=read_request)


@st.composite
def garbage(draw: st.DrawFn) -> Reply:
    data = draw(st.binary(min_size=1, max_size=4096).filter(lambda b: b[:5] != b"HTTP/"[: len(b)]))
    return broken("garbage", draw(endings), data)


@st.composite
def http09(draw: st.DrawFn) -> Reply:
    text = st.text(min_size=1, max_size=200).map(lambda t: t.encode())
    body = draw(st.sampled_from(HTTP09_REPLIES) | text.filter(lambda b: not b.startswith(b"H")))
    return broken("HTTP/0.9 reply", draw(endings), body)


@st.composite
def fuzzed(draw: st.DrawFn) -> Reply:
    start = draw(
        st.sampled_from(
            [
                b"HTTP/1.1 ",
                STATUS,
                CHUNKED_HEAD,
                STATUS + b"Content-Length: 5\r\n\r\n",
                b"HTTP/1.1 100 Continue\r\n",
            ]
        )
    )
    tail = draw(st.binary(max_size=512))
    ending: Ending = draw(endings)
    timeout_s = WAIT_S if ending == "hang" else QUICK_S
    return Reply("fuzzed", ANY_ANSWER, (start + tail,), ending=ending, timeout_s=timeout_s)


@st.composite
def oversized(draw: st.DrawFn) -> Reply:
    form = draw(st.sampled_from(["length", "chunked", "eof"]))
    if form == "length":
        head = STATUS + b"Content-Length: %d\r\n\r\n" % draw(st.integers(CAP + 1, 10**15))
    elif form == "chunked":
        head = CHUNKED_HEAD + b"%x\r\n" % draw(st.integers(CAP + 1, 2**40))
    else:
        head = STATUS + b"\r\n"
    return Reply(
        "oversized body",
        frozenset({Outcome.OK}),
        (head,),
        flood=BLOCK,
        flood_bytes=FLOOD_BYTES,
        ending=draw(endings),
        body_bytes=CAP,
        truncated=True,
    )


@st.composite
def length_mismatches(draw: st.DrawFn) -> Reply:
    body = draw(st.binary(max_size=CAP // 2))
    declared = draw(st.integers(0, CAP - 1))
    data = STATUS + b"Content-Length: %d\r\n\r\n" % declared + body
    if declared > len(body):
        return unfinished("body shorter than Content-Length", draw(endings), data)
    ok = frozenset({Outcome.OK})
    return Reply("body longer than Content-Length", ok, (data,), body_bytes=declared)


@st.composite
def interim_responses(draw: st.DrawFn) -> Reply:
    message = draw(messages())
    interim = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" * draw(st.integers(1, 3))
    ok = frozenset({Outcome.OK})
    return Reply("interim 1xx first", ok, (interim + message.data,), body_bytes=message.body_len)


FAMILIES = [
    malformed_status,
    malformed_header,
    head_sizes,
    endless_heads,
    bad_chunks,
    truncated_chunked,
    drips,
    early_closes,
    silences,
    garbage,
    http09,
    fuzzed,
    oversized,
    length_mismatches,
    interim_responses,
]

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.mark.parametrize("loop", sorted(LOOPS))
@pytest.mark.parametrize("family", FAMILIES, ids=lambda family: family.__name__)
@hypothesis.settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
)
@given(data=st.data())
def test_hostile_reply_ends_in_a_named_outcome(
    loop: str, family: Callable[[], st.SearchStrategy[Reply]], data: st.DataObject
) -> None:
    reply = data.draw(family(), label="reply")
    hypothesis.event(reply.case)
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        run = runner.run(probe_once(reply, max_body=CAP))
    obs = run.observation
    assert obs.outcome in reply.expect, (reply, obs)
    assert not run.loop_errors, (reply, run.loop_errors)
    assert obs.ok is (obs.outcome is Outcome.OK)
    assert run.elapsed_s <= reply.timeout_s + MARGIN_S, (reply, run.elapsed_s)
    assert obs.timings["total"] <= reply.timeout_s + MARGIN_S
    assert run.peak_bytes < MEMORY_LIMIT, (reply, run.peak_bytes, reply.offered_bytes)
    if obs.ok:
        assert obs.detail["body_bytes"] <= CAP
        if reply.body_bytes is not None:
            assert obs.detail["body_bytes"] == reply.body_bytes, (reply, obs)
        if reply.truncated is not None:
            assert obs.detail["truncated"] is reply.truncated, (reply, obs)
    elif obs.outcome in ENDED_EARLY.values():
        assert obs.phase is Phase.RESPONSE, obs
        assert obs.detail["error"]
