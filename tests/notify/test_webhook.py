"""Webhooks: signed deliveries to a real loopback receiver, retries and giving up."""

from __future__ import annotations

import hashlib
import hmac
import random
import time

import pytest
from aiohttp import web

from netvigil.errors import NotifyError
from netvigil.incident import EventKind
from netvigil.notify.webhook import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    backoff_delay,
    redact_url,
    sign,
    verify_signature,
)

from .helpers import SECRET, Receiver, bound_socket, make_event


def notifier(url: str, **kwargs: object) -> WebhookNotifier:
    options: dict[str, object] = {"timeout_s": 2.0, "backoff_s": 0.02, "rng": random.Random(7)}
    options.update(kwargs)
    return WebhookNotifier(url, secret=SECRET, **options)  # type: ignore[arg-type]


def test_signature_scheme_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(b"key", b'1658005445.{"a":1}', hashlib.sha256).hexdigest()
    assert sign("key", "1658005445", b'{"a":1}') == f"sha256={expected}"
    # The worked example in docs/alerts.md, for receivers written in other languages.
    assert sign("key", "1658005445", b'{"a":1}') == (
        "sha256=b66a9376c88f55ee07e2a7d919eeaa8c745aeabbd1d7acdadf4bcbd81567663f"
    )


def test_verify_signature_refuses_tampering_replay_and_junk() -> None:
    body = b'{"kind":"confirmed"}'
    ts = "1658005445"
    good = sign(SECRET, ts, body)
    now = 1658005445.0
    assert verify_signature(SECRET, ts, body, good, tolerance_s=300, now=now)
    assert verify_signature(SECRET, ts, body, good, tolerance_s=300, now=now + 299)
    assert not verify_signature(SECRET, ts, body, good, tolerance_s=300, now=now + 301)
    assert not verify_signature(SECRET, ts, body, good, tolerance_s=300, now=now - 301)
    assert not verify_signature(SECRET, ts, body + b" ", good, tolerance_s=300, now=now)
    assert not verify_signature("another-secret", ts, body, good, tolerance_s=300, now=now)
    # The timestamp is signed: moving it forward to dodge the tolerance breaks the signature.
    assert not verify_signature(SECRET, "1658005745", body, good, tolerance_s=300, now=now + 300)
    assert not verify_signature(SECRET, "-1", body, good, now=now)
    assert not verify_signature(SECRET, ts, body, "sha256=00", now=now)


def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    rng = random.Random(1)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 30.0)]:
        delays = [backoff_delay(retry, base_s=1.0, cap_s=30.0, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_redacted_url_drops_credentials_and_query() -> None:
    assert redact_url("https://user:pw@hooks.example:8443/p/x?token=abc#f") == (
        "https://hooks.example:8443/p/x"
    )


async def test_delivery_is_signed_and_carries_the_event(receiver: Receiver) -> None:
    await notifier(receiver.url).send(make_event(EventKind.CONFIRMED))
    [delivery] = receiver.deliveries
    assert receiver.bad_signatures == 0
    assert delivery.headers[EVENT_HEADER] == "confirmed"
    assert delivery.headers["Content-Type"] == "application/json"
    assert abs(int(delivery.headers[TIMESTAMP_HEADER]) - time.time()) < 5
    assert delivery.headers[SIGNATURE_HEADER].startswith("sha256=")
    assert delivery.json["kind"] == "confirmed"
    assert delivery.json["incident"]["services"] == ["parlament", "e-albania", "kryeministria"]
    assert delivery.json["headline"].startswith("CONFIRMED: e-albania, kryeministria, parlament")


async def test_wrong_secret_is_refused_by_the_receiver_and_not_retried(
    receiver: Receiver,
) -> None:
    wrong = WebhookNotifier(receiver.url, secret="not-the-shared-secret", backoff_s=0.01)
    with pytest.raises(NotifyError, match="refused with HTTP 401; not retried"):
        await wrong.send(make_event())
    assert receiver.requests == 1
    assert receiver.bad_signatures == 1


async def test_retries_after_two_500s_then_delivers_once(receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    hook = notifier(receiver.url, max_attempts=5)
    await hook.send(make_event())
    assert receiver.requests == 3
    assert hook.attempts == 3
    [delivery] = receiver.deliveries
    assert delivery.json["kind"] == "confirmed"


async def test_retries_keep_the_delivery_id_and_stay_signed(receiver: Receiver) -> None:
    seen: list[tuple[str, str]] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append((request.headers[DELIVERY_HEADER], request.headers[SIGNATURE_HEADER]))
        if len(seen) == 1:
            return web.Response(status=503)
        return await receiver.handle(request)

    app = web.Application()
    app.router.add_post("/hook", flaky)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    sock = bound_socket()
    await web.SockSite(runner, sock).start()
    try:
        await notifier(f"http://127.0.0.1:{sock.getsockname()[1]}/hook").send(make_event())
    finally:
        await runner.cleanup()
    assert len(seen) == 2
    assert seen[0][0] == seen[1][0]
    assert len(receiver.deliveries) == 1
    assert receiver.bad_signatures == 0


async def test_gives_up_after_max_attempts_within_bounded_time(receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    hook = notifier(receiver.url, max_attempts=3, backoff_s=0.05)
    started = time.monotonic()
    with pytest.raises(NotifyError, match=r"gave up after 3 attempt\(s\).*HTTP 500"):
        await hook.send(make_event())
    elapsed = time.monotonic() - started
    assert receiver.requests == 3
    assert elapsed < 1.0  # 0.05 + 0.1 s of backoff at most, plus three loopback requests


async def test_total_time_bound_stops_retries_early(receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    hook = notifier(receiver.url, max_attempts=10, backoff_s=0.2, max_total_s=0.5)
    started = time.monotonic()
    with pytest.raises(NotifyError, match="gave up"):
        await hook.send(make_event())
    assert time.monotonic() - started < 0.8
    assert 2 <= receiver.requests < 10


async def test_network_error_is_retried_then_reported() -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now: connection refused
    hook = notifier(f"http://127.0.0.1:{port}/hook", max_attempts=2)
    with pytest.raises(NotifyError, match=r"gave up after 2 attempt\(s\)") as info:
        await hook.send(make_event())
    assert hook.attempts == 2
    assert "Connect" in str(info.value) or "connect" in str(info.value)


async def test_slow_receiver_hits_the_attempt_timeout(receiver: Receiver) -> None:
    receiver.delay_s = 0.5
    hook = notifier(receiver.url, timeout_s=0.1, max_attempts=2)
    started = time.monotonic()
    with pytest.raises(NotifyError, match="TimeoutError"):
        await hook.send(make_event())
    assert time.monotonic() - started < 0.45  # two 0.1 s attempts, not the 0.5 s answer
