"""Webhook alerts: a signed JSON POST, retried with jittered exponential backoff.

Each delivery carries these headers:

    Content-Type:          application/json
    X-Netvigil-Event:      confirmed | cause_changed | resolved | opened
    X-Netvigil-Delivery:   an id that stays the same across retries of one alert
    X-Netvigil-Timestamp:  Unix time in whole seconds, as decimal digits
    X-Netvigil-Signature:  sha256=<hex of HMAC-SHA256(secret, timestamp + "." + body)>

The signed material is the timestamp header's ASCII digits, one ".", then the raw
request body bytes. A receiver recomputes the HMAC over exactly those bytes, compares
in constant time and refuses timestamps outside its tolerance; `verify_signature`
does all three. Each attempt is signed afresh with its own timestamp.

Network errors, timeouts, 429 and 5xx answers are retried up to `max_attempts`, with
exponential backoff and jitter, all within `max_total_s`. Other answers (4xx, 3xx)
are not retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import aiohttp

from netvigil.config.model import WebhookNotifyConfig
from netvigil.errors import ConfigError, NotifyError
from netvigil.incident import IncidentEvent
from netvigil.notify.message import event_payload

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookNotifier",
    "backoff_delay",
    "redact_url",
    "sign",
    "verify_signature",
]

log = logging.getLogger("netvigil.notify")

TIMESTAMP_HEADER = "X-Netvigil-Timestamp"
SIGNATURE_HEADER = "X-Netvigil-Signature"
EVENT_HEADER = "X-Netvigil-Event"
DELIVERY_HEADER = "X-Netvigil-Delivery"

_RETRY_STATUS = frozenset({408, 425, 429})
try:
    _USER_AGENT = f"netvigil/{version('netvigil')}"
except PackageNotFoundError:  # running from a source tree that is not installed
    _USER_AGENT = "netvigil"
_MAX_RETRY_AFTER_S = 300.0


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: 'sha256=' + hex HMAC-SHA256 of `timestamp + "." + body`."""
    mac = hmac.new(_key(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """Whether `signature` signs `timestamp` and `body` with `secret`, within `tolerance_s`.

    `timestamp` and `signature` are the X-Netvigil-Timestamp and X-Netvigil-Signature
    header values, `body` the raw request body. False for a malformed header, a
    timestamp further than `tolerance_s` from `now` (default: the current time) in
    either direction, or a signature that does not match (compared in constant time).
    """
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 15:
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature.strip())


def backoff_delay(retry: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds to wait before retry number `retry` (1 for the first retry).

    Exponential with equal jitter: half of min(cap, base * 2**(retry-1)) is fixed, the
    other half uniformly random, so retries from many senders spread out but still grow.
    """
    ceiling = min(cap_s, base_s * 2.0 ** (retry - 1))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


def redact_url(url: str) -> str:
    """The URL without credentials, query or fragment (which may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), _MAX_RETRY_AFTER_S)


class WebhookNotifier:
    """Posts each event as signed JSON to one URL; raises NotifyError once it gives up."""

    kind = "webhook"

    def __init__(
        self,
        url: str,
        *,
        secret: str | bytes,
        name: str = "webhook",
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        backoff_s: float = 1.0,
        backoff_max_s: float = 30.0,
        max_total_s: float = 120.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.name = name
        self.url = url
        self._secret = _key(secret)
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.max_total_s = max_total_s
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self.attempts = 0
        """Delivery attempts made so far (all alerts together)."""

    @classmethod
    def from_config(
        cls, section: WebhookNotifyConfig, *, name: str, env: Mapping[str, str]
    ) -> WebhookNotifier:
        """Build from a `[[notify]]` section; the secret may come from `env`.

        Raises ConfigError when `secret_env` names a variable that is not set.
        """
        if section.secret is not None:
            secret = section.secret.get_secret_value()
        else:
            var = section.secret_env or ""
            secret = env.get(var, "")
            if not secret:
                raise ConfigError(
                    "environment",
                    [(f"notify {name}.secret_env", f"environment variable {var!r} is not set")],
                )
        return cls(
            section.url,
            secret=secret,
            name=name,
            timeout_s=section.timeout_s,
            max_attempts=section.max_attempts,
            backoff_s=section.backoff_s,
            max_total_s=section.max_total_s,
        )

    async def send(self, event: IncidentEvent) -> None:
        """POST the event; retry on network errors, 429 and 5xx. Raises NotifyError."""
        body = json.dumps(event_payload(event), separators=(",", ":"), allow_nan=False).encode()
        await self.post(body, event=event.kind.value, delivery=uuid.uuid4().hex)

    async def post(self, body: bytes, *, event: str, delivery: str) -> None:
        """Deliver `body` (signed per attempt) with retries. Raises NotifyError."""
        started = self._clock()
        deadline = started + self.max_total_s
        last = "no attempt made"
        attempt = 0
        timeout = aiohttp.ClientTimeout(total=None)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while attempt < self.max_attempts:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    break
                attempt += 1
                self.attempts += 1
                retry_after: float | None = None
                try:
                    status, retry_after = await self._attempt(
                        session, body, event, delivery, min(self.timeout_s, remaining)
                    )
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                else:
                    if 200 <= status < 300:
                        return
                    last = f"HTTP {status}"
                    if not (status >= 500 or status in _RETRY_STATUS):
                        raise NotifyError(
                            f"webhook {self.name} ({redact_url(self.url)}): refused with "
                            f"{last}; not retried"
                        )
                if attempt >= self.max_attempts:
                    break
                delay = backoff_delay(
                    attempt, base_s=self.backoff_s, cap_s=self.backoff_max_s, rng=self._rng
                )
                if retry_after is not None:
                    delay = max(delay, retry_after)
                if self._clock() + delay >= deadline:
                    break
                log.info(
                    "webhook %s: attempt %d failed (%s); retrying in %.2f s",
                    self.name,
                    attempt,
                    last,
                    delay,
                )
                await self._sleep(delay)
        elapsed = self._clock() - started
        raise NotifyError(
            f"webhook {self.name} ({redact_url(self.url)}): gave up after {attempt} "
            f"attempt(s) in {elapsed:.1f} s; last error: {last}"
        )

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        body: bytes,
        event: str,
        delivery: str,
        timeout_s: float,
    ) -> tuple[int, float | None]:
        timestamp = str(int(self._wall()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            EVENT_HEADER: event,
            DELIVERY_HEADER: delivery,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        async with asyncio.timeout(timeout_s):
            async with session.post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.content.readany()
                return response.status, _retry_after(response.headers.get("Retry-After"))
