"""The shipper: delivers spooled measurements to the server's ingest API.

    shipper = Shipper(spool, "http://server:8080", token, agent="tirana-1")
    await shipper.run(stop)

Each round takes up to `batch_size` of the oldest waiting measurements and POSTs them
to `<server>/api/v1/ingest` with the bearer token. What the answer decides:

| answer                                 | what happens                                       |
|----------------------------------------|----------------------------------------------------|
| 2xx                                    | batch durable on the server: acked (deleted)       |
| network error, timeout, 5xx, 429, 408  | same batch retried after an exponential backoff    |
| 401, 403 (token or name refused)       | retried with backoff, logged as an error: the      |
|                                        | batch is fine, the agent's token or name is wrong; |
|                                        | once the config is fixed the backlog goes through  |
| 413 with more than one measurement     | batch size halved, retried at once                 |
| any other 4xx                          | batch moved to the spool's `rejected` table with   |
|                                        | the server's reason, logged; never retried forever |

With `mark` (the agent's scheduler's watermark, `Scheduler.watermark`: the oldest probe
start in flight, or now) each batch that holds everything waiting also carries the
agent's mark, read before the spool was: no measurement still to come is stamped
before it, so the server's detection takes the batch at once instead of waiting out
its lateness (`netvigil.web.ingest`). When nothing waits, the mark goes alone, at most
once per `poll_s` and only when it has moved on. A full batch (more may wait behind
it) carries none.

Backoff doubles from `backoff_initial_s` to at most `backoff_max_s`, each wait jittered
to between half and all of its nominal length, and resets after a success. Measurement
ids make a retry idempotent: a batch whose answer was lost is counted as duplicates by
the server, never stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from netvigil.agent.spool import Spool
from netvigil.metrics import Metrics
from netvigil.model import Measurement
from netvigil.scheduler import Scheduler

__all__ = ["INGEST_PATH", "ShipStats", "Shipper", "ingest_url"]

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"

_RETRY_STATUSES = frozenset({401, 403, 408, 425, 429})

MAX_ANSWER_BYTES = 1 << 20
"""At most this much of a server's answer is read."""


def ingest_url(server_url: str) -> str:
    """The ingest endpoint of a server given by its base URL (`http://host:port`)."""
    base = server_url.rstrip("/")
    return base if base.endswith(INGEST_PATH) else base + INGEST_PATH


@dataclass(slots=True)
class ShipStats:
    """What the shipper has done since it started."""

    batches: int = 0
    """Batches the server took (2xx)."""
    accepted: int = 0
    """Measurements the server stored as new."""
    duplicates: int = 0
    """Measurements the server already had (a retried batch whose answer was lost)."""
    rejected: int = 0
    """Measurements the server refused, moved to the spool's rejected table."""
    failures: int = 0
    """Attempts that failed and will be retried (network, 5xx, 401, 403, 429...)."""
    marks: int = 0
    """Marks the server took (with a batch or alone)."""
    last_error: str | None = None
    last_success_at: float | None = None

    @property
    def shipped(self) -> int:
        """Measurements delivered (new plus duplicates)."""
        return self.accepted + self.duplicates


class _Retry(Exception):
    """This attempt failed in a way that a later attempt may not."""


class _ShipCollector(Collector):
    """Reads the shipper's counters at scrape time."""

    def __init__(self, stats: ShipStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        shipped = CounterMetricFamily(
            "netvigil_agent_shipped",
            "Measurements delivered to the server, by result.",
            labels=["result"],
        )
        shipped.add_metric(["accepted"], self._stats.accepted)
        shipped.add_metric(["duplicate"], self._stats.duplicates)
        shipped.add_metric(["rejected"], self._stats.rejected)
        yield shipped
        yield CounterMetricFamily(
            "netvigil_agent_ship_failures",
            "Delivery attempts that failed and were retried.",
            value=self._stats.failures,
        )
        last = self._stats.last_success_at
        yield GaugeMetricFamily(
            "netvigil_agent_last_ship_timestamp_seconds",
            "When a batch was last delivered (0: never).",
            value=last if last is not None else 0.0,
        )


class Shipper:
    """Moves measurements from a Spool to the server's ingest API; see the module docs."""

    def __init__(
        self,
        spool: Spool,
        server_url: str,
        token: str,
        agent: str,
        *,
        batch_size: int = 500,
        poll_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        request_timeout_s: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        now: Callable[[], float] = time.time,
        mark: Callable[[], float] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.spool = spool
        self.url = ingest_url(server_url)
        self.agent = agent
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stats = ShipStats()
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        }
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._session = session
        self._rng = rng if rng is not None else random.Random()
        self._now = now
        self._mark = mark
        self._marked = float("-inf")
        """The last mark the server took."""
        self._attempt = 0
        if metrics is not None:
            metrics.track_spool(lambda: float(spool.depth))
            metrics.registry.register(_ShipCollector(self.stats))

    def follow(self, scheduler: Scheduler) -> None:
        """Send `scheduler`'s watermark as this agent's mark (see the module docstring);
        the spool must be a sink of the same scheduler's results."""
        self._mark = scheduler.watermark

    def backoff_s(self, attempt: int) -> float:
        """How long to wait after `attempt` consecutive failures (1 = the first)."""
        nominal = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** max(attempt - 1, 0))
        return nominal * (0.5 + 0.5 * self._rng.random())

    async def run(self, stop: asyncio.Event, *, drain_timeout_s: float = 5.0) -> None:
        """Ship until `stop` is set, then try for up to `drain_timeout_s` to empty the spool."""
        owned = self._session is None
        if owned:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            await self._loop(stop)
            if drain_timeout_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drain(), drain_timeout_s)
        finally:
            if owned and self._session is not None:
                await self._session.close()
                self._session = None

    async def _drain(self) -> None:
        """Ship until the spool is empty, stopping at the first failed attempt."""
        with contextlib.suppress(_Retry):
            while await self._ship_once():
                pass

    async def _ship_once(self) -> int:
        """Send one batch; returns how many measurements it settled (0: spool empty).

        Raises _Retry when the batch must be sent again later. Needs the session `run` opens.
        """
        mark = self._mark() if self._mark is not None else None  # before the spool is read
        batch = await self.spool.peek(self.batch_size)
        if not batch:
            if mark is not None and mark >= self._marked + self.poll_s:
                await self._send_mark(mark)
            return 0
        if len(batch) >= self.batch_size:
            mark = None  # more may wait, older than the mark
        status, answer = await self._post(batch, mark)
        ids = [m.id for m in batch]
        if 200 <= status < 300:
            accepted = _int(answer.get("accepted"), len(batch))
            duplicates = _int(answer.get("duplicates"), len(batch) - accepted)
            await self.spool.ack(ids)
            self.stats.batches += 1
            self.stats.accepted += accepted
            self.stats.duplicates += duplicates
            self.stats.last_success_at = self._now()
            self._attempt = 0
            self._took_mark(mark)
            return len(batch)
        reason = _reason(status, answer)
        if status >= 500 or status in _RETRY_STATUSES:
            if status in (401, 403):
                log.error("server refused this agent's identity (%s); will retry", reason)
            raise _Retry(reason)
        if status == 413 and len(batch) > 1:
            self.batch_size = max(1, len(batch) // 2)
            log.warning(
                "server refused a batch as too large (%s); batch size now %d",
                reason,
                self.batch_size,
            )
            return len(batch)
        moved = await self.spool.reject(ids, reason)
        self.stats.rejected += moved
        self.stats.last_error = reason
        log.error(
            "server refused a batch of %d measurement(s), set aside as rejected: %s",
            len(batch),
            reason,
        )
        return len(batch)

    async def _send_mark(self, mark: float) -> None:
        """Send the mark alone (nothing waits). Raises _Retry as `_ship_once`."""
        status, answer = await self._post((), mark)
        if 200 <= status < 300:
            self._attempt = 0
            self._took_mark(mark)
            return
        reason = _reason(status, answer)
        if status >= 500 or status in _RETRY_STATUSES:
            raise _Retry(reason)
        # Refused (a clock far ahead: 422): measurements still go; log it once per reason.
        if reason != self.stats.last_error:
            log.error("server refused this agent's mark: %s", reason)
        self.stats.last_error = reason
        self._marked = mark  # not again before it has moved on

    def _took_mark(self, mark: float | None) -> None:
        if mark is not None:
            self.stats.marks += 1
            self._marked = mark

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                settled = await self._ship_once()
            except _Retry as exc:
                self._attempt += 1
                self.stats.failures += 1
                self.stats.last_error = str(exc)
                delay = self.backoff_s(self._attempt)
                log.warning("shipping to %s failed (%s); retrying in %.1f s", self.url, exc, delay)
                await _wait(stop, delay)
                continue
            if settled == 0:
                await _wait(stop, self.poll_s)

    async def _post(
        self, batch: Sequence[Measurement], mark: float | None
    ) -> tuple[int, dict[str, Any]]:
        assert self._session is not None, "run() opens the session"
        envelope: dict[str, Any] = {
            "agent": self.agent,
            "measurements": [m.to_json() for m in batch],
        }
        if mark is not None:
            envelope["mark"] = mark
        body = json.dumps(envelope, separators=(",", ":")).encode()
        try:
            async with self._session.post(
                self.url, data=body, headers=self._headers, timeout=self._timeout
            ) as resp:
                raw = await resp.content.read(MAX_ANSWER_BYTES)
                status = resp.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise _Retry(
                f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            ) from exc
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {"error": raw[:200].decode("utf-8", "replace")}
        return status, answer if isinstance(answer, dict) else {}


async def _wait(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _reason(status: int, answer: dict[str, Any]) -> str:
    error = answer.get("error")
    text = f"HTTP {status}: {error}" if isinstance(error, str) and error else f"HTTP {status}"
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        text += f" [{shown}{more}]"
    return text
