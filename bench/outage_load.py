"""Large outage: does `netvigil run` stay up and keep judging while 200 targets fail?

    .venv/bin/python bench/outage_load.py            # ~5 minutes: 10 s interval
    .venv/bin/python bench/outage_load.py --quick    # ~2 minutes: 4 s interval, shorter phases
    .venv/bin/python bench/outage_load.py --agents 0 # the server probes alone (no agents)

One run, two phases, against a real `netvigil run` subprocess with its own temporary
config and store (web on 127.0.0.1, a free port):

- healthy: the server probes its own loopback targets (`--own` TCP and HTTP listeners
  the bench opens, default 50), the 200 targets the agents report (TCP and HTTP
  listeners too) and a canary; 4 synthetic agents (asyncio tasks in this process, one
  token each) post a batch for all 200 targets every probe interval, all healthy, with
  their marks as `netvigil agent` sends them (the last batch of a round carries one,
  and between rounds one goes alone every second; `--no-marks`: none, the lateness
  rule for the agents, as an agent of an older version).
- large outage: the 200 listeners are closed (the server's own probes are refused) and
  every agent reports every one of them timing out, for the whole phase (each stamped
  with its probe's start, a timeout before it is reported, and the agents' marks a
  timeout further back: their probes in flight).

In each phase the canary (an HTTP listener only the server probes, service "canary" on
a network and organization of its own) is closed at a known time; the bench polls
`/api/v1/incidents?open=true` every 0.5 s and reports the delay until an incident not
open before names "canary", in seconds and in probe intervals, then opens it again.
A thread polls `/api/v1/health` every 100 ms (new connection each time, 1 s timeout).

Per phase: measurements/s accepted by ingest and handed to detection, schedule lag p99
(from the deltas of `netvigil_schedule_lag_seconds` over the phase), /health p50/p99 and
timeouts, canary detection delay, detector CPU per 1,000 measurements, measurements
dropped by detection, server CPU and RSS. Prints healthy and outage side by side with
the ratio, and writes bench/results/outage_load.json. All traffic stays on 127.0.0.0/8;
every loop is bounded in count and time, and the server is started with `--duration`.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
import uvloop
from _proc import cpu_of, peak_rss_mb, rss_mb
from prometheus_client.parser import text_string_to_metric_families

from netvigil.agent.tokens import new_token
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
CANARY = "canary"
INGEST_RATE_PER_AGENT = 50.0
"""`[server] ingest_rate_per_agent` in the bench's config (the default is 5/s)."""
INGEST_BURST = 200
"""`[server] ingest_burst` in the bench's config (the default is 20)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How big and how long; durations in probe intervals unless named `_s`."""

    interval_s: float = 10.0
    own_targets: int = 50
    outage_targets: int = 200
    agents: int = 4
    batch_size: int = 200
    """Measurements per ingest request (an agent's round is split into batches this big)."""
    marks: bool = True
    """Agents send their marks (`netvigil.web.ingest`)."""
    warmup: float = 3.0
    healthy: float = 12.0
    outage: float = 15.0
    canary_at: float = 1.5
    """The canary is closed this long into each phase."""
    canary_wait: float = 8.0
    """Longest wait for the canary's incident (and for an old one to resolve first)."""

    @classmethod
    def quick(cls) -> Plan:
        return cls(interval_s=4.0, healthy=12.0, outage=12.0)

    @property
    def total_s(self) -> float:
        return (self.warmup + self.healthy + self.outage + self.canary_wait) * self.interval_s


# -- loopback targets ---------------------------------------------------------------------


def target_address(i: int) -> str:
    """The i-th target address: 127.13.0.1, 127.13.0.2, ... (one per target, so the
    server's per-address rate guard never delays a probe)."""
    if not 0 <= i < 254 * 200:
        raise ValueError(f"address index {i} out of range")
    return f"127.13.{i // 254}.{i % 254 + 1}"


class _Answer(asyncio.Protocol):
    """Answers one HTTP request `200 ok` and closes; a bare TCP connect is just accepted."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\r\n\r\n" in self._buffer and self._transport is not None:
            self._transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            )
            self._transport.close()


@dataclass
class Listener:
    """One loopback target: listens on its own address; can be closed and opened again
    on the same port."""

    name: str
    kind: str
    address: str
    port: int = 0
    _server: asyncio.Server | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            _Answer, self.address, self.port, reuse_address=True, backlog=256
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def close(self) -> None:
        """Stop listening: connects are refused from now on."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def spec(self, service: str, interval_s: float) -> dict[str, Any]:
        """This listener as a `[[targets]]` entry."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "service": service}
        if self.kind == "http":
            out["url"] = f"http://{self.address}:{self.port}/"
        else:
            out |= {"host": self.address, "port": self.port}
        return out | {"interval_s": interval_s, "timeout_s": min(5.0, interval_s / 2)}


@dataclass
class Fleet:
    """Every loopback target of the run: the server's own, the outage set and the canary."""

    own: list[Listener]
    outage: list[Listener]
    canary: Listener

    @classmethod
    def build(cls, plan: Plan) -> Fleet:
        kinds = ("tcp", "http")
        own = [
            Listener(f"own-{i:03d}", kinds[i % 2], target_address(i))
            for i in range(plan.own_targets)
        ]
        base = plan.own_targets
        outage = [
            Listener(f"out-{i:03d}", kinds[i % 2], target_address(base + i))
            for i in range(plan.outage_targets)
        ]
        canary = Listener(CANARY, "http", target_address(base + plan.outage_targets))
        return cls(own, outage, canary)

    async def open(self) -> None:
        for listener in [*self.own, *self.outage, self.canary]:
            await listener.open()

    def close(self) -> None:
        for listener in [*self.own, *self.outage, self.canary]:
            listener.close()


# -- the server ---------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def to_toml(doc: dict[str, Any]) -> str:
    """TOML for a config of flat tables and arrays of flat tables (all a config needs here)."""
    lines: list[str] = []
    for key, value in doc.items():
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            lines.append(f"[[{key}]]" if isinstance(value, list) else f"[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in row.items()]
            lines.append("")
    return "\n".join(lines)


def config_doc(plan: Plan, fleet: Fleet, digests: list[str], db: Path) -> dict[str, Any]:
    """The server's config: own targets, the 200 outage targets on 20 networks, the canary
    on a network and organization of its own, `plan.agents` agents, ingest limits raised."""
    n_nets = 20
    services = [{"name": f"own-svc-{i:03d}"} for i in range(len(fleet.own))]
    services += [
        {
            "name": f"svc-{i:03d}",
            "network": f"net-{i % n_nets:02d}",
            "organization": f"org-{i % n_nets:02d}",
        }
        for i in range(len(fleet.outage))
    ]
    services.append({"name": CANARY, "network": "canary-net", "organization": "canary-org"})
    iv = plan.interval_s
    targets = [t.spec(f"own-svc-{i:03d}", iv) for i, t in enumerate(fleet.own)]
    targets += [t.spec(f"svc-{i:03d}", iv) for i, t in enumerate(fleet.outage)]
    targets.append(fleet.canary.spec(CANARY, iv))
    return {
        "vantage": {"name": "server", "in_country": True},
        "store": {"path": str(db)},
        "scheduler": {"concurrency": 512},
        "server": {
            "listen": f"{HOST}:0",
            "ingest_rate_per_agent": INGEST_RATE_PER_AGENT,
            "ingest_burst": INGEST_BURST,
        },
        "networks": [{"name": f"net-{i:02d}"} for i in range(n_nets)] + [{"name": "canary-net"}],
        "organizations": [{"name": f"org-{i:02d}"} for i in range(n_nets)]
        + [{"name": "canary-org"}],
        "services": services,
        "targets": targets,
        "agents": [
            {"name": f"agent-{k + 1}", "token_sha256": d, "in_country": k % 2 == 0}
            for k, d in enumerate(digests)
        ],
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """`netvigil run` in a subprocess, its log in the work directory."""

    config: Path
    port: int
    duration_s: float
    log: Path
    log_level: str | None = None
    """`netvigil run --log-level` (None: its default)."""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        """Start the server and wait (up to 60 s) until /api/v1/health answers.

        Raises RuntimeError when it does not come up.
        """
        cmd = [sys.executable, "-m", "netvigil", "run", "-c", str(self.config), "--plain"]
        cmd += ["--listen", f"{HOST}:{self.port}", "--duration", str(int(self.duration_s))]
        if self.log_level is not None:
            cmd += ["--log-level", self.log_level]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            if health_latency(self.port, 1.0) is not None:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"netvigil run did not start; see {self.log}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- what the bench watches ---------------------------------------------------------------


def health_latency(port: int, timeout_s: float) -> float | None:
    """One GET /api/v1/health on a new connection: seconds, or None on timeout or error."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request("GET", "/api/v1/health")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            return None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    return time.perf_counter() - t0


class HealthPoller(threading.Thread):
    """Polls /api/v1/health every `period_s` on its own thread (so that nothing the bench's
    event loop does delays it): (wall time, seconds or None) per poll."""

    def __init__(self, port: int, until: float, period_s: float = 0.1) -> None:
        super().__init__(name="health-poller", daemon=True)
        self.port, self.until, self.period_s = port, until, period_s
        self.samples: list[tuple[float, float | None]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        due = time.monotonic()
        while not self.stopping.is_set() and time.time() < self.until:
            started = time.time()
            self.samples.append((started, health_latency(self.port, 1.0)))
            due = max(due + self.period_s, time.monotonic())
            self.stopping.wait(max(0.0, due - time.monotonic()))

    def between(self, t0: float, t1: float) -> list[float | None]:
        return [lat for t, lat in list(self.samples) if t0 <= t < t1]


@dataclass(frozen=True, slots=True)
class CanaryIncident:
    """An open incident naming the canary, as one poll saw it (times: the server's epoch
    seconds, stream time: `start` is its first failed probe, `confirmed_at` the probe
    that confirmed it)."""

    id: str
    start: float
    confirmed_at: float | None


@dataclass(frozen=True, slots=True)
class IncidentPoll:
    """One answer of /api/v1/incidents?open=true (None fields: it failed)."""

    t: float
    latency_s: float | None
    canary: tuple[CanaryIncident, ...] = ()
    outage_targets: int = 0

    @property
    def canary_ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.canary)


class IncidentWatcher:
    """Polls the open incidents every 0.5 s for the whole run."""

    def __init__(self, base: str, until: float) -> None:
        self.base, self.until = base, until
        self.polls: list[IncidentPoll] = []

    async def run(self, session: aiohttp.ClientSession) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        url = f"{self.base}/api/v1/incidents?open=true"
        while time.time() < self.until:
            t, t0 = time.time(), time.perf_counter()
            try:
                async with session.get(url, timeout=timeout) as r:
                    found = await r.json()
                incidents = found if isinstance(found, list) else found.get("incidents", [])
                canary = tuple(
                    CanaryIncident(i["id"], float(i["start"]), i["confirmed_at"])
                    for i in incidents
                    if CANARY in i["services"]
                )
                out = {x for i in incidents for x in i["targets"] if x.startswith("out-")}
                lat = time.perf_counter() - t0
                self.polls.append(IncidentPoll(t, lat, canary, len(out)))
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError):
                self.polls.append(IncidentPoll(t, None))
            await asyncio.sleep(0.5)

    def canary_open(self) -> frozenset[str]:
        """Ids of open incidents naming the canary, at the latest answered poll."""
        answered = [p for p in self.polls if p.latency_s is not None]
        return answered[-1].canary_ids if answered else frozenset()

    def first_new_canary(self, since: float, known: frozenset[str]) -> float | None:
        """When an incident naming the canary, not among `known`, was first seen after `since`."""
        return next((p.t for p in self.polls if p.t >= since and p.canary_ids - known), None)

    def new_canary(
        self, since: float, known: frozenset[str], *, confirmed: bool = False
    ) -> tuple[float, CanaryIncident] | None:
        """The first poll after `since` that showed an incident naming the canary, not among
        `known` (with `confirmed`: showed it confirmed), and that incident as it showed it."""
        for p in self.polls:
            if p.t < since:
                continue
            for c in p.canary:
                if c.id not in known and (not confirmed or c.confirmed_at is not None):
                    return p.t, c
        return None

    def outage_seen(self, since: float, wanted: int) -> float | None:
        """When at least `wanted` outage targets were first in open incidents after `since`."""
        return next((p.t for p in self.polls if p.t >= since and p.outage_targets >= wanted), None)


async def scrape(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """The figures of /metrics this bench uses (three tries, 10 s each)."""
    for attempt in range(3):
        try:
            async with session.get(f"{base}/metrics", timeout=aiohttp.ClientTimeout(10)) as r:
                text = await r.text()
            break
        except (aiohttp.ClientError, TimeoutError):
            if attempt == 2:
                raise
    out: dict[str, Any] = {"t": time.time(), "lag_buckets": {}}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "netvigil_schedule_lag_seconds_bucket":
                out["lag_buckets"][float(s.labels["le"])] = s.value
            elif s.name == "netvigil_schedule_lag_seconds_count":
                out["lag_count"] = s.value
            elif s.name == "netvigil_detect_hold_seconds_bucket" and s.labels["le"] == "0.01":
                out["holds_up_to_10ms"] = s.value
            elif s.name == "netvigil_detect_late_total":
                out["late_total"] = out.get("late_total", 0.0) + s.value
            elif s.name.startswith("netvigil_detect_") and not s.labels:
                out[s.name] = s.value
    return out


def lag_quantile(before: dict[str, Any], after: dict[str, Any], q: float) -> dict[str, Any]:
    """Quantile `q` of the schedule lag observed between two scrapes, as Prometheus's
    histogram_quantile computes it (linear within the bucket), with the bucket's bound."""
    bounds = sorted(after["lag_buckets"])
    counts = [after["lag_buckets"][b] - before["lag_buckets"].get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return {"observations": 0, "value_s": None, "bucket_le_s": None}
    rank = q * total
    for i, (bound, cum) in enumerate(zip(bounds, counts, strict=True)):
        if cum >= rank:
            lower = bounds[i - 1] if i else 0.0
            below = counts[i - 1] if i else 0.0
            if math.isinf(bound):
                value = lower  # past the last finite bucket: only "more than" is known
            else:
                value = lower + (bound - lower) * (rank - below) / max(cum - below, 1e-9)
            return {"observations": int(total), "value_s": value, "bucket_le_s": bound}
    raise AssertionError("cumulative buckets end below the total")


# -- synthetic agents ---------------------------------------------------------------------


@dataclass
class AgentStats:
    """What one agent's ingest requests got back."""

    posts: int = 0
    accepted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    answers: list[tuple[float, float]] = field(default_factory=list)
    """(wall time, seconds) per answered request."""
    accepted_at: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class Agent:
    """A remote vantage: every interval, one measurement per outage target, posted in
    batches; failing (connect timeouts) while `outage` is set."""

    name: str
    token: str
    targets: list[Listener]
    plan: Plan
    outage: asyncio.Event
    stats: AgentStats = field(default_factory=AgentStats)
    marked: float = -math.inf
    """The last mark sent: nothing stamped before it may follow."""

    def timeout_s(self) -> float:
        return min(5.0, self.plan.interval_s / 2)

    def round(self) -> list[dict[str, Any]]:
        """One measurement per target, in random order, each stamped with its probe's
        start: within the last second, and a timeout before that when failing (a probe
        that times out is reported a timeout after it began); never before the last
        mark sent (those probes began after it)."""
        now = time.time()
        failing = self.outage.is_set()
        began = now - (self.timeout_s() if failing else 0.0)
        batch = []
        for t in self.targets:
            ts = max(began - random.random(), self.marked)
            if failing:
                m = Measurement(
                    id=new_measurement_id(ts), ts=ts, vantage=self.name, target=t.name,
                    kind=t.kind, ok=False, outcome=Outcome.TCP_TIMEOUT, phase=Phase.CONNECT,
                    timings={"total": self.timeout_s()}, address=t.address,
                )  # fmt: skip
            else:
                connect = 0.01 + random.random() * 0.02
                m = Measurement(
                    id=new_measurement_id(ts), ts=ts, vantage=self.name, target=t.name,
                    kind=t.kind, ok=True, outcome=Outcome.OK,
                    timings={"connect": connect, "total": connect * 2}, address=t.address,
                )  # fmt: skip
            batch.append(m.to_json())
        random.shuffle(batch)
        return batch

    def mark(self) -> float | None:
        """The agent's mark now, as `netvigil agent` sends it, the oldest start of its
        probes in flight: a second back, and a timeout more while its probes time out
        (None: marks are off)."""
        if not self.plan.marks:
            return None
        back = 1.0 + (self.timeout_s() if self.outage.is_set() else 0.0)
        self.marked = max(self.marked, time.time() - back)
        return self.marked

    async def post(
        self, session: aiohttp.ClientSession, url: str, batch: list[Any], mark: float | None
    ) -> None:
        body: dict[str, Any] = {"agent": self.name, "measurements": batch}
        if mark is not None:
            body["mark"] = mark
        headers = {"Authorization": f"Bearer {self.token}"}
        t, t0 = time.time(), time.perf_counter()
        try:
            async with session.post(
                url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(30)
            ) as r:
                answer = await r.json(content_type=None)
                status = str(r.status)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            status, answer = type(exc).__name__, {}
        self.stats.posts += 1
        self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
        if status == "200":
            self.stats.answers.append((t, time.perf_counter() - t0))
            self.stats.accepted += int(answer.get("accepted", 0))
            self.stats.accepted_at.append((t, int(answer.get("accepted", 0))))

    async def run(
        self, session: aiohttp.ClientSession, base: str, offset_s: float, until: float
    ) -> None:
        url = f"{base}/api/v1/ingest"
        await asyncio.sleep(offset_s)
        due = time.monotonic()
        while time.time() < until:
            batch = self.round()
            size = self.plan.batch_size
            for i in range(0, len(batch), size):
                last = i + size >= len(batch)
                await self.post(session, url, batch[i : i + size], self.mark() if last else None)
            due = max(due + self.plan.interval_s, time.monotonic())
            while (wait := due - time.monotonic()) > 0:  # the mark alone, once a second
                await asyncio.sleep(min(1.0, wait))
                mark = self.mark()
                if mark is not None and due - time.monotonic() > 0.5:
                    await self.post(session, url, [], mark)


# -- the run ------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything one run holds: the plan, the targets, the server and the watchers."""

    plan: Plan
    fleet: Fleet
    server: ServerProcess
    profile: Path | None
    agents: list[Agent]
    outage: asyncio.Event
    watcher: IncidentWatcher
    health: HealthPoller
    session: aiohttp.ClientSession
    t0: float


async def sleep_until(wall: float) -> None:
    await asyncio.sleep(max(0.0, wall - time.time()))


async def canary_trial(run: Run, phase_start: float) -> dict[str, Any]:
    """Close the canary `canary_at` intervals into the phase (once no earlier canary incident
    is open), wait for a new incident naming it, open it again."""
    iv = run.plan.interval_s
    planned = phase_start + run.plan.canary_at * iv
    await sleep_until(planned)
    deadline = time.time() + run.plan.canary_wait * iv
    while time.time() < deadline:
        if not run.watcher.canary_open():
            break
        await asyncio.sleep(0.5)
    known = run.watcher.canary_open()
    closed = time.time()
    run.fleet.canary.close()
    deadline = closed + run.plan.canary_wait * iv
    seen = None
    confirmed = None
    while confirmed is None and time.time() < deadline:
        await asyncio.sleep(0.25)
        seen = seen or run.watcher.new_canary(closed, known)
        confirmed = run.watcher.new_canary(closed, known, confirmed=True)
    await run.fleet.canary.open()
    delay = None if seen is None else seen[0] - closed
    confirmed_delay = None if confirmed is None else confirmed[0] - closed
    return {
        "closed_at_s": round(closed - run.t0, 2),
        "waited_for_earlier_incident_s": round(max(0.0, closed - planned), 2),
        "earlier_incident_still_open": bool(known),
        "detected": seen is not None,
        "delay_s": None if delay is None else round(delay, 2),
        "delay_intervals": None if delay is None else round(delay / iv, 2),
        "confirmed_delay_intervals": None
        if confirmed_delay is None
        else round(confirmed_delay / iv, 2),
        "gave_up_after_s": None if seen is not None else run.plan.canary_wait * iv,
        **canary_breakdown(closed, seen, confirmed, iv),
    }


def canary_breakdown(
    closed: float,
    seen: tuple[float, CanaryIncident] | None,
    confirmed: tuple[float, CanaryIncident] | None,
    interval_s: float,
) -> dict[str, Any]:
    """Where the canary's detection delay goes, in probe intervals: from the listener's close
    to the first failed probe (where the close falls in the probe cycle), from that probe to
    the incident shown (any state) and shown confirmed; of the latter, from the first
    failed probe to the probe that confirmed it (the confirmation rule: 3 failed probes,
    2 quick re-probe intervals apart, `retry_interval_s`), and from that probe to the
    confirmation shown (the watermark, the detector, the store and the API, and the 0.5 s
    poll)."""

    def iv(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / interval_s, 2)

    inc = confirmed[1] if confirmed is not None else seen[1] if seen is not None else None
    if inc is None:
        return {}
    rule = None if inc.confirmed_at is None else inc.confirmed_at - inc.start
    return {
        "first_failed_probe_after_close": iv(inc.start - closed),
        "shown_after_first_failed_probe": iv(None if seen is None else seen[0] - inc.start),
        "confirmed_shown_after_first_failed_probe": iv(
            None if confirmed is None else confirmed[0] - inc.start
        ),
        "confirming_probe_after_first_failed_probe": iv(rule),
        "confirmed_shown_after_confirming_probe_s": None
        if confirmed is None or inc.confirmed_at is None
        else round(confirmed[0] - inc.confirmed_at, 2),
    }


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def ingest_figures(agents: list[Agent], t0: float, t1: float) -> dict[str, Any]:
    """Ingest requests answered in [t0, t1): measurements accepted, request latency."""
    answers = [lat for a in agents for t, lat in a.stats.answers if t0 <= t < t1]
    accepted = sum(n for a in agents for t, n in a.stats.accepted_at if t0 <= t < t1)
    return {
        "requests_answered_200": len(answers),
        "accepted": accepted,
        "accepted_per_s": round(accepted / (t1 - t0), 1),
        "request_p50_ms": _ms(quantile(answers, 0.5)),
        "request_p99_ms": _ms(quantile(answers, 0.99)),
    }


def detection_figures(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Detection counters over the phase: measurements, CPU, drops, late."""

    def delta(name: str) -> float:
        return float(after.get(name, 0.0)) - float(before.get(name, 0.0))

    measured = delta("netvigil_detect_measurements_total")
    cpu = delta("netvigil_detect_cpu_seconds_total")
    gc_cpu = delta("netvigil_detect_gc_cpu_seconds_total")
    own = cpu - gc_cpu
    seconds = after["t"] - before["t"]
    return {
        "measurements": int(measured),
        "measurements_per_s": round(measured / seconds, 1),
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_1000": round(cpu * 1e6 / measured, 2) if measured else None,
        "measurements_per_cpu_s": round(measured / cpu) if cpu > 0 else None,
        "gc_cpu_s": round(gc_cpu, 3),
        "measurements_per_cpu_s_less_gc": round(measured / own) if own > 0 else None,
        "dropped": int(delta("netvigil_detect_dropped_total")),
        "late": int(delta("late_total")),
        "queue_depth_at_end": int(after.get("netvigil_detect_queue_depth", 0)),
        "holds": int(delta("netvigil_detect_hold_seconds_count")),
        "holds_over_10ms": int(
            delta("netvigil_detect_hold_seconds_count") - delta("holds_up_to_10ms")
        ),
        "longest_hold_ms_since_start": round(
            1000 * float(after.get("netvigil_detect_longest_hold_seconds", 0.0)), 2
        ),
    }


def health_figures(samples: list[float | None]) -> dict[str, Any]:
    answered = [s for s in samples if s is not None]
    return {
        "polls": len(samples),
        "timeouts_or_errors": len(samples) - len(answered),
        "p50_ms": _ms(quantile(answered, 0.5)),
        "p99_ms": _ms(quantile(answered, 0.99)),
        "max_ms": _ms(max(answered) if answered else None),
    }


def incidents_poll_figures(polls: list[IncidentPoll]) -> dict[str, Any]:
    answered = [p.latency_s for p in polls if p.latency_s is not None]
    return {
        "polls": len(polls),
        "failed": len(polls) - len(answered),
        "p99_ms": _ms(quantile(answered, 0.99)),
    }


async def judgement(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """What the server judges now: each vantage's health and every incident, in short."""
    timeout = aiohttp.ClientTimeout(10)
    async with session.get(f"{base}/api/v1/vantages", timeout=timeout) as r:
        found = await r.json()
    vantages = found if isinstance(found, list) else found.get("vantages", [])
    url = f"{base}/api/v1/incidents?include_withdrawn=true&limit=100&since=0"
    async with session.get(url, timeout=timeout) as r:
        incidents = await r.json()
    return {
        "vantages": {v["name"]: v.get("health") for v in vantages},
        "incidents": [
            {
                "id": i["id"],
                "state": i["state"],
                "cause": i["cause"],
                "vantage": i.get("vantage"),
                "targets": len(i["targets"]),
                "services": len(i["services"]),
                "canary": CANARY in i["services"],
                "start": round(i["start"], 1),
                "end": None if i.get("end") is None else round(i["end"], 1),
            }
            for i in incidents
        ],
    }


def start_py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy (next to this Python, else on PATH) sampling every thread of `pid` at 100 Hz,
    without stopping it, for `seconds`; collapsed stacks into `out`."""
    here = Path(sys.executable).parent / "py-spy"
    exe = str(here) if here.exists() else "py-spy"
    cmd = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100", "--threads"]
    cmd += ["--nonblocking", "-f", "raw", "-o", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run_phase(run: Run, name: str, intervals: float, outage: bool) -> dict[str, Any]:
    """One phase: (for the outage) close the 200 listeners and make the agents fail, run the
    canary trial, and take every figure over the phase's window."""
    pid = run.server.pid
    before = await scrape(run.session, run.server.base)
    cpu0, start = cpu_of(pid), time.time()
    spy = None
    if outage:
        for listener in run.fleet.outage:
            listener.close()
        run.outage.set()
        if run.profile is not None:
            spy = start_py_spy(pid, intervals * run.plan.interval_s - 2, run.profile)
    canary = await canary_trial(run, start)
    await sleep_until(start + intervals * run.plan.interval_s)
    if spy is not None:
        spy.wait(60)
    after = await scrape(run.session, run.server.base)
    end, cpu1 = time.time(), cpu_of(pid)
    judged = await judgement(run.session, run.server.base)
    seconds = end - start
    out: dict[str, Any] = {
        "phase": name,
        "started_at_s": round(start - run.t0, 1),
        "seconds": round(seconds, 1),
        "ingest": ingest_figures(run.agents, start, end),
        "detection": detection_figures(before, after),
        "schedule_lag_p99": lag_quantile(before, after, 0.99),
        "schedule_lag_p50": lag_quantile(before, after, 0.50),
        "health": health_figures(run.health.between(start, end)),
        "incidents_api": incidents_poll_figures(
            [p for p in run.watcher.polls if start <= p.t < end]
        ),
        "canary": canary,
        "server_cpu_s": round((cpu1 - cpu0).total_s, 2),
        "server_cpu_share": round((cpu1 - cpu0).total_s / seconds, 3),
        "server_rss_mb": round(rss_mb(pid), 1),
        "server_peak_rss_mb": round(peak_rss_mb(pid), 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "at_end": judged,
    }
    if outage:
        seen = run.watcher.outage_seen(start, len(run.fleet.outage))
        out["all_outage_targets_in_incidents_after_s"] = (
            None if seen is None else round(seen - start, 1)
        )
    return out


async def bench(
    plan: Plan, workdir: Path, profile: Path | None = None, log_level: str | None = None
) -> dict[str, Any]:
    """The whole run: targets, server, agents and watchers, warm-up, healthy, outage."""
    fleet = Fleet.build(plan)
    await fleet.open()
    tokens = [new_token() for _ in range(plan.agents)]
    config = workdir / "netvigil.toml"
    doc = config_doc(plan, fleet, [digest for _, digest in tokens], workdir / "netvigil.db")
    config.write_text(to_toml(doc))
    server = ServerProcess(
        config, free_port(), plan.total_s + 120, workdir / "server.log", log_level
    )
    server.start()
    t0 = time.time()
    until = t0 + plan.total_s + 60
    outage = asyncio.Event()
    agents = [
        Agent(f"agent-{k + 1}", token, fleet.outage, plan, outage)
        for k, (token, _) in enumerate(tokens)
    ]
    health = HealthPoller(server.port, until)
    watcher = IncidentWatcher(server.base, until)
    try:
        async with aiohttp.ClientSession() as session:
            run = Run(plan, fleet, server, profile, agents, outage, watcher, health, session, t0)
            health.start()
            tasks = [asyncio.create_task(watcher.run(session))]
            tasks += [
                asyncio.create_task(
                    a.run(session, server.base, k * plan.interval_s / len(agents), until)
                )
                for k, a in enumerate(agents)
            ]
            try:
                await asyncio.sleep(plan.warmup * plan.interval_s)
                before_healthy = [p for p in watcher.polls if p.latency_s is not None][-1:]
                phases = [
                    await run_phase(run, "healthy", plan.healthy, outage=False),
                    await run_phase(run, "outage", plan.outage, outage=True),
                ]
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            health.stopping.set()
            return {
                "phases": phases,
                "agents": {
                    a.name: {k: asdict(a.stats)[k] for k in ("posts", "accepted", "statuses")}
                    for a in agents
                },
                "server_exit": server.proc.poll() if server.proc else None,
                "open_incidents_after_warmup": [
                    [*sorted(p.canary_ids), f"{p.outage_targets} outage targets"]
                    for p in before_healthy
                ],
            }
    finally:
        health.stopping.set()
        server.stop()
        fleet.close()


def long_holds(log: Path) -> list[str]:
    """The server's DEBUG lines on holds of the state's lock over 10 ms, time first."""
    marker = "a hold of the state's lock took"
    with open(log, encoding="utf-8", errors="replace") as lines:
        return [line.strip() for line in lines if marker in line]


# -- the report ---------------------------------------------------------------------------

ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ingest accepted measurements/s", ("ingest", "accepted_per_s")),
    ("ingest request p99 ms", ("ingest", "request_p99_ms")),
    ("detection measurements/s", ("detection", "measurements_per_s")),
    ("schedule lag p50 s", ("schedule_lag_p50", "value_s")),
    ("schedule lag p99 s", ("schedule_lag_p99", "value_s")),
    ("schedule lag p99 bucket le s", ("schedule_lag_p99", "bucket_le_s")),
    ("/health p50 ms", ("health", "p50_ms")),
    ("/health p99 ms", ("health", "p99_ms")),
    ("/health max ms", ("health", "max_ms")),
    ("/health timeouts", ("health", "timeouts_or_errors")),
    ("/incidents p99 ms", ("incidents_api", "p99_ms")),
    ("canary detection s", ("canary", "delay_s")),
    ("canary detection intervals", ("canary", "delay_intervals")),
    ("canary confirmed, intervals", ("canary", "confirmed_delay_intervals")),
    ("canary: close to first failed probe", ("canary", "first_failed_probe_after_close")),
    ("canary: first failed probe to shown", ("canary", "shown_after_first_failed_probe")),
    (
        "canary: first failed probe to shown confirmed",
        ("canary", "confirmed_shown_after_first_failed_probe"),
    ),
    (
        "canary: first failed to confirming probe",
        ("canary", "confirming_probe_after_first_failed_probe"),
    ),
    (
        "canary: confirming probe to shown confirmed s",
        ("canary", "confirmed_shown_after_confirming_probe_s"),
    ),
    ("detector CPU ms/1000 meas.", ("detection", "cpu_ms_per_1000")),
    ("detector meas./CPU-s", ("detection", "measurements_per_cpu_s")),
    ("  of its CPU, garbage collection s", ("detection", "gc_cpu_s")),
    ("  meas./CPU-s less collections", ("detection", "measurements_per_cpu_s_less_gc")),
    ("detection holds of the state's lock", ("detection", "holds")),
    ("detection holds over 10 ms CPU", ("detection", "holds_over_10ms")),
    ("detection longest hold ms CPU (since start)", ("detection", "longest_hold_ms_since_start")),
    ("detection dropped", ("detection", "dropped")),
    ("detection late", ("detection", "late")),
    ("server CPU share", ("server_cpu_share",)),
    ("server RSS MiB", ("server_rss_mb",)),
)


def pick(phase: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = phase
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _cell(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def table(healthy: dict[str, Any], outage: dict[str, Any]) -> str:
    """Healthy and outage side by side, with outage / healthy."""
    lines = ["| figure | healthy | outage | outage/healthy |", "|---|---:|---:|---:|"]
    for label, path in ROWS:
        h, o = pick(healthy, path), pick(outage, path)
        ratio = "" if not h or o is None else f"{o / h:.2f}"
        lines.append(f"| {label} | {_cell(h)} | {_cell(o)} | {ratio} |")
    return "\n".join(lines)


def verdicts(outage: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The targets the outage phase should meet, each with its figure and whether it does."""
    lag = outage["schedule_lag_p99"]["value_s"]
    health = outage["health"]
    canary = outage["canary"]["delay_intervals"]
    per_cpu = outage["detection"]["measurements_per_cpu_s"]
    return {
        "schedule lag p99 < 1 s": {"figure": lag, "met": lag is not None and lag < 1.0},
        "/health p99 < 100 ms": {
            "figure": health["p99_ms"],
            "timeouts": health["timeouts_or_errors"],
            "met": health["p99_ms"] is not None
            and health["p99_ms"] < 100
            and health["timeouts_or_errors"] <= 0.01 * health["polls"],
        },
        "canary within 2 probe intervals": {
            "figure": canary,
            "met": canary is not None and canary <= 2,
        },
        "no hold of the state's lock over 10 ms of CPU": {
            "figure": outage["detection"]["longest_hold_ms_since_start"],
            "met": outage["detection"]["holds_over_10ms"] == 0
            and outage["detection"]["longest_hold_ms_since_start"] <= 10,
        },
        ">= 25,000 measurements per detector CPU-second": {
            "figure": per_cpu,
            "met": per_cpu is not None and per_cpu >= 25_000,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="~2 minutes: 4 s interval")
    parser.add_argument("--interval", type=float, help="probe interval, s (default 10)")
    parser.add_argument("--batch-size", type=int, help="measurements per ingest request")
    parser.add_argument(
        "--agents", type=int, help="synthetic agents (default 4; 0: the server probes alone)"
    )
    parser.add_argument(
        "--no-marks", action="store_true", help="agents send no marks (the lateness rule)"
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep config, store, log")
    parser.add_argument("--out", type=Path, default=RESULTS / "outage_load.json")
    parser.add_argument(
        "--server-log-level",
        choices=["debug", "info"],
        help="netvigil run --log-level; with debug the report lists the holds over 10 ms",
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy the server in the outage phase (collapsed stacks)"
    )
    args = parser.parse_args()
    plan = Plan.quick() if args.quick else Plan()
    if args.interval is not None:
        plan = Plan(**{**asdict(plan), "interval_s": args.interval})
    if args.batch_size is not None:
        plan = Plan(**{**asdict(plan), "batch_size": args.batch_size})
    if args.agents is not None:
        plan = Plan(**{**asdict(plan), "agents": args.agents})
    if args.no_marks:
        plan = Plan(**{**asdict(plan), "marks": False})
    workdir = Path(tempfile.mkdtemp(prefix="nv-outage-"))
    started = time.time()
    load_before = os.getloadavg()
    print(f"outage load: ~{plan.total_s / 60:.1f} min at most, work directory {workdir}")
    try:
        result = uvloop.run(
            asyncio.wait_for(
                bench(plan, workdir, args.profile, args.server_log_level), plan.total_s + 300
            )
        )
        if args.server_log_level == "debug":
            result["long_holds"] = long_holds(workdir / "server.log")
    finally:
        if not args.keep_workdir:
            for path in sorted(workdir.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
            workdir.rmdir()
    healthy, outage = result["phases"]
    report = {
        "command": " ".join(["bench/outage_load.py", *sys.argv[1:]]),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": load_before},
        "plan": asdict(plan),
        "server_config": {
            "ingest_rate_per_agent": INGEST_RATE_PER_AGENT,
            "ingest_burst": INGEST_BURST,
            "targets": plan.own_targets + plan.outage_targets + 1,
        },
        **result,
        "targets": verdicts(outage),
    }
    print(table(healthy, outage))
    print("canary:", json.dumps({p["phase"]: p["canary"] for p in result["phases"]}))
    print(
        "large outage in incidents after s:", outage.get("all_outage_targets_in_incidents_after_s")
    )
    print("agents:", json.dumps(result["agents"]))
    for line in result.get("long_holds", []):
        print("long hold:", line)
    for name, v in report["targets"].items():
        print(f"  {'met' if v['met'] else 'MISSED'}: {name} ({v['figure']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print("written:", args.out)


if __name__ == "__main__":
    main()
