"""The HTTP client's reading of responses at its edges: caps, framing, interim and odd replies."""

from __future__ import annotations

import pytest

from netvigil.outcome import Outcome
from netvigil.probes.http_client import MAX_HEAD_BYTES

from .hostile import Reply, probe_once
from .test_http_hostile import CAP, CHUNKED_HEAD, STATUS, chunked, head_of_size

OK = frozenset({Outcome.OK})


def reply(*pieces: bytes, ending: str = "close") -> Reply:
    return Reply("edge", OK, pieces, ending=ending)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "body_bytes", "truncated"),
    [
        pytest.param(
            STATUS + b"Content-Length: %d\r\n\r\n" % CAP + b"a" * CAP, CAP, False, id="cl-at-cap"
        ),
        pytest.param(
            STATUS + b"Content-Length: %d\r\n\r\n" % (CAP + 1) + b"a" * (CAP + 1),
            CAP,
            True,
            id="cl-over-cap",
        ),
        pytest.param(
            CHUNKED_HEAD + chunked(b"b" * (CAP - 1), 1000), CAP - 1, False, id="chunked-under-cap"
        ),
        # A chunked or unframed body that reaches the cap may go on: reading stops there.
        pytest.param(CHUNKED_HEAD + chunked(b"b" * CAP, 1000), CAP, True, id="chunked-at-cap"),
        pytest.param(b"HTTP/1.0 200 OK\r\n\r\n" + b"c" * 100, 100, False, id="eof-body"),
        pytest.param(
            CHUNKED_HEAD + b"3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n", 3, False, id="trailers"
        ),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"
            + STATUS
            + b"Content-Length: 2\r\n\r\nhi",
            2,
            False,
            id="interim-1xx",
        ),
        pytest.param(STATUS + b"Content-Length: 2\r\n\r\nhi and more", 2, False, id="extra-bytes"),
    ],
)
async def test_body_framing_and_cap(data: bytes, body_bytes: int, truncated: bool) -> None:
    run = await probe_once(reply(data), max_body=CAP)
    obs = run.observation
    assert obs.outcome is Outcome.OK, obs
    assert (obs.detail["body_bytes"], obs.detail["truncated"]) == (body_bytes, truncated)
    assert not run.loop_errors


async def test_the_head_may_be_exactly_the_limit() -> None:
    at_limit = await probe_once(reply(head_of_size(MAX_HEAD_BYTES) + b"hi"), max_body=CAP)
    assert at_limit.observation.outcome is Outcome.OK, at_limit.observation
    over = await probe_once(reply(head_of_size(MAX_HEAD_BYTES + 1) + b"hi"), max_body=CAP)
    assert over.observation.outcome is Outcome.HTTP_PROTOCOL_ERROR
    assert "64 KiB" in over.observation.detail["error"]


async def test_a_reply_read_byte_by_byte() -> None:
    data = STATUS + b"X-A: b\r\nContent-Length: 5\r\n\r\nhello"
    run = await probe_once(reply(*(data[i : i + 1] for i in range(len(data)))), max_body=CAP)
    assert run.observation.outcome is Outcome.OK
    assert run.observation.detail["body_bytes"] == 5


async def test_switching_protocols_ends_at_the_head() -> None:
    data = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
    run = await probe_once(reply(data, ending="hang"), max_body=CAP)
    obs = run.observation
    assert (obs.outcome, obs.detail["status"]) == (Outcome.HTTP_CONTENT_MISMATCH, 101)
    assert run.elapsed_s < 1.0
    assert not run.loop_errors


@pytest.mark.parametrize(
    "status_line",
    [b"RTSP/1.0 200 OK", b"ICE/1.0 200 OK", b"HTTP/2.0 200 OK", b"HTTP/0.9 200 OK"],
)
async def test_only_http_1x_is_accepted(status_line: bytes) -> None:
    data = status_line + b"\r\nContent-Length: 0\r\n\r\n"
    run = await probe_once(reply(data, ending="hang"), max_body=CAP)
    assert run.observation.outcome is Outcome.HTTP_PROTOCOL_ERROR
    assert run.elapsed_s < 1.0
