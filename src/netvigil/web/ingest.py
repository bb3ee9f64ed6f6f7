"""Agent ingest: `POST /api/v1/ingest`, where remote vantages deliver measurement batches.

A request carries `Authorization: Bearer <token>` and a JSON body

    {"agent": "<name>", "measurements": [<Measurement.to_json()>, ...], "mark": <ts>}

`mark` (optional, epoch seconds on the agent's clock) says that none of the agent's
measurements still to come is stamped before it: detection then takes the agent's
measurements as soon as they are in, instead of waiting out the detection lateness
(`netvigil.detect.reorder`). An agent sends it with a batch that holds every
measurement it has not yet delivered, and alone (no measurements) when it has nothing
to send. A mark is only a promise about the agent's own stream: one that is wrong
makes that agent's later measurements late, never another agent's.

A batch is checked whole and then stored whole, or refused whole with nothing stored:

    401  no token, or a token no configured agent holds
    429  the agent's token made more than `ingest_rate_per_agent` requests per second
         (after a burst of `ingest_burst`); `Retry-After` says when to try again
    403  `agent` or a measurement's `vantage` is not the agent the token belongs to
    413  body over `max_body_bytes`, or more than `max_measurements` measurements
    400  body is not JSON
    422  a measurement is malformed (each error names `measurements[i].field`): a
         field of the wrong type, a number that is NaN or infinite anywhere in it
         (`measurements[i].detail.hops[2].rtt`), a `ts` more than `max_clock_skew_s`
         ahead of the server's clock or too old, or a target the agent may not report
         (`netvigil.web.ingest_policy`); a `mark` that is not a finite number or is
         more than `max_clock_skew_s` ahead
    503  the store could not write (the agent retries later)

On success the answer is `{"ok": true, "accepted": N, "duplicates": D}`, sent only once
the batch is durable: N measurements were new, D had been stored before (ids are
idempotent, so an agent may safely resend a batch whose answer it never got).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError

from netvigil.config.model import AgentConfig
from netvigil.errors import IngestError, StoreError
from netvigil.metrics import Metrics
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.store.base import Store
from netvigil.web.errors import capped, validation_messages
from netvigil.web.ingest_policy import IngestRateLimit, TargetAllowance

__all__ = [
    "DEFAULT_LIMITS",
    "IngestBatch",
    "IngestLimits",
    "MeasurementIn",
    "authenticate",
    "ingest_router",
    "parse_batch",
]

_FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Duration = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """What one ingest request may hold.

    | setting            | default  | refused with |
    |--------------------|----------|--------------|
    | `max_body_bytes`   | 8 MiB    | 413          |
    | `max_measurements` | 5,000    | 413          |
    | `max_future_s`     | 30 s     | 422          |
    | `max_age_s`        | 90 days  | 422          |

    `max_future_s` is the clock skew allowed, `[server] max_clock_skew_s` in the config.
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_measurements: int = 5_000
    max_future_s: float = 30.0
    max_age_s: float = 90 * 86400.0


DEFAULT_LIMITS = IngestLimits()
"""The limits an app gets unless it is given others."""


class MeasurementIn(BaseModel):
    """One measurement as an agent sends it: `Measurement.to_json()`, checked strictly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_\-]+$")
    ts: _FiniteFloat
    vantage: str = Field(min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=32)
    ok: StrictBool
    outcome: Outcome
    phase: Phase | None = None
    timings: dict[str, _Duration] = Field(default_factory=dict)
    detail: dict[str, Any] = Field(default_factory=dict)
    address: str | None = Field(default=None, max_length=64)

    def to_measurement(self) -> Measurement:
        """The checked input as the Measurement every later stage reads."""
        return Measurement(
            id=self.id,
            ts=self.ts,
            vantage=self.vantage,
            target=self.target,
            kind=self.kind,
            ok=self.ok,
            outcome=self.outcome,
            phase=self.phase,
            timings=dict(self.timings),
            detail=dict(self.detail),
            address=self.address,
        )


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=64)
    measurements: list[Any]
    mark: _FiniteFloat | None = None


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """A checked ingest body: its measurements, and the agent's mark (None: not sent)."""

    measurements: list[Measurement]
    mark: float | None = None


_measurements_adapter: TypeAdapter[list[MeasurementIn]] = TypeAdapter(list[MeasurementIn])


def authenticate(authorization: str | None, agents: Sequence[AgentConfig]) -> AgentConfig:
    """The agent whose token the `Authorization` header carries. Raises IngestError (401).

    The token's hash is compared with every configured agent's, in constant time and
    without stopping early, so the answer time does not tell which agent was close.
    """
    if not authorization:
        raise IngestError(
            "missing Authorization header; send 'Authorization: Bearer <token>'", status=401
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise IngestError("Authorization header must be 'Bearer <token>'", status=401)
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
    found: AgentConfig | None = None
    for agent in agents:
        if hmac.compare_digest(digest, agent.token_sha256) and found is None:
            found = agent
    if found is None:
        raise IngestError("unknown agent token: no configured agent has it", status=401)
    return found


def parse_batch(
    body: bytes,
    *,
    agent: str,
    limits: IngestLimits = DEFAULT_LIMITS,
    now: float | None = None,
) -> IngestBatch:
    """Check a whole ingest body from the authenticated `agent`. Raises IngestError.

    Returns the measurements (and the mark) only if every one of them is valid; any
    problem refuses the batch whole (400, 403, 413 or 422; see the module docs).
    """
    if len(body) > limits.max_body_bytes:
        raise IngestError(
            f"request body is {len(body)} bytes; at most {limits.max_body_bytes} are accepted",
            status=413,
        )
    try:
        envelope = _Envelope.model_validate_json(body)
    except ValidationError as exc:
        errs = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errs):
            raise IngestError(
                "request body is not valid JSON", status=400, errors=validation_messages(errs)
            ) from exc
        raise IngestError(
            'request body must be {"agent": <name>, "measurements": [...]}',
            status=422,
            errors=capped(validation_messages(errs)),
        ) from exc
    if envelope.agent != agent:
        raise IngestError(
            f"batch names agent {envelope.agent!r}, but the token belongs to agent {agent!r}",
            status=403,
            errors=[f"agent: must be {agent!r}"],
        )
    count = len(envelope.measurements)
    if count > limits.max_measurements:
        raise IngestError(
            f"batch holds {count} measurements; at most {limits.max_measurements} are accepted",
            status=413,
        )
    try:
        checked = _measurements_adapter.validate_python(envelope.measurements)
    except ValidationError as exc:
        lines = [
            f"measurements{line}" if line.startswith("[") else f"measurements: {line}"
            for line in validation_messages(exc.errors(include_url=False))
        ]
        raise IngestError(
            f"batch refused: {exc.error_count()} invalid field(s); nothing was stored",
            status=422,
            errors=capped(lines),
        ) from exc
    wrong = [
        f"measurements[{i}].vantage: {m.vantage!r} is not this agent's vantage {agent!r}"
        for i, m in enumerate(checked)
        if m.vantage != agent
    ]
    if wrong:
        raise IngestError(
            f"batch refused: {len(wrong)} measurement(s) claim another vantage than {agent!r}",
            status=403,
            errors=capped(wrong),
        )
    _check_finite(checked)
    now = time.time() if now is None else now
    _check_times(checked, limits, now)
    if envelope.mark is not None and envelope.mark > now + limits.max_future_s:
        raise IngestError(
            f"mark {envelope.mark} is {envelope.mark - now:.0f} s ahead of the server's clock"
            f" (at most {limits.max_future_s:g} s allowed; is the agent's clock right?);"
            " nothing was stored",
            status=422,
            errors=[f"mark: more than {limits.max_future_s:g} s ahead of the server's clock"],
        )
    return IngestBatch([m.to_measurement() for m in checked], envelope.mark)


def _non_finite(value: Any, where: str) -> list[str]:
    """`where...` paths of the NaN and infinite floats nested in `value`."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [where]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _non_finite(item, f"{where}.{key}")]
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in _non_finite(item, f"{where}[{i}]")]
    return []


def _check_finite(checked: Sequence[MeasurementIn]) -> None:
    """Refuse NaN and ±Infinity in `detail` (JSON has no such numbers; the other
    fields are checked by their types)."""
    bad = [
        f"{path}: not a finite number (NaN and Infinity are not JSON)"
        for i, m in enumerate(checked)
        for path in _non_finite(m.detail, f"measurements[{i}].detail")
    ]
    if bad:
        raise IngestError(
            f"batch refused: {len(bad)} number(s) are NaN or infinite; nothing was stored",
            status=422,
            errors=capped(bad),
        )


def _check_times(checked: Sequence[MeasurementIn], limits: IngestLimits, now: float) -> None:
    latest = now + limits.max_future_s
    earliest = now - limits.max_age_s
    bad: list[str] = []
    for i, m in enumerate(checked):
        if m.ts > latest:
            bad.append(
                f"measurements[{i}].ts: {m.ts} is {m.ts - now:.0f} s ahead of the server's "
                f"clock (at most {limits.max_future_s:g} s allowed; is the agent's clock right?)"
            )
        elif m.ts < earliest:
            bad.append(
                f"measurements[{i}].ts: {m.ts} is {(now - m.ts) / 86400:.1f} days old "
                f"(at most {limits.max_age_s / 86400:.1f} days allowed)"
            )
    if bad:
        raise IngestError(
            f"batch refused: {len(bad)} measurement(s) have an implausible time",
            status=422,
            errors=capped(bad),
        )


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(
            f"request body is {declared} bytes; at most {limit} are accepted", status=413
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError(f"request body exceeds {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def ingest_router(
    store: Store,
    agents: Sequence[AgentConfig] | Callable[[], Sequence[AgentConfig]],
    *,
    targets: TargetAllowance,
    rate_limit: IngestRateLimit,
    limits: IngestLimits = DEFAULT_LIMITS,
    metrics: Metrics | None = None,
    now: Callable[[], float] = time.time,
    on_accepted: Callable[[str, Sequence[Measurement], float], object] | None = None,
    on_mark: Callable[[str, float], object] | None = None,
) -> APIRouter:
    """The ingest route, bound to `store` and the agents allowed to ship into it.

    `agents` is a list, or a function returning the current list (agents added at run
    time). `targets` says which targets each agent may report, `rate_limit` how often
    it may send. `on_accepted(agent, batch, received_at)` hears of every batch stored,
    `on_mark(agent, mark)` of every mark taken, once the batch it came with is stored
    (and handed on by `store`).
    """
    router = APIRouter()
    fixed = None if callable(agents) else tuple(agents)

    def refused(agent: str) -> None:
        if metrics is not None:
            metrics.observe_ingest(agent, accepted=False, count=0)

    @router.post("/ingest", summary="Store a batch of measurements from a remote agent")
    async def ingest(request: Request) -> dict[str, Any]:
        try:
            known = tuple(agents()) if callable(agents) else fixed or ()
            agent = authenticate(request.headers.get("authorization"), known)
        except IngestError:
            refused("")
            raise
        wait_s = rate_limit.wait_s(agent.name)
        if wait_s > 0:
            refused(agent.name)
            raise HTTPException(
                429,
                f"agent {agent.name!r} sends more than {rate_limit.rate:g} batches per second"
                f" (burst {rate_limit.burst}); retry in {wait_s:.1f} s",
                headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
            )
        received_at = now()
        try:
            body = await _read_body(request, limits.max_body_bytes)
            parsed = parse_batch(body, agent=agent.name, limits=limits, now=now())
            batch = parsed.measurements
            taken = await targets.take(agent, batch)
        except IngestError:
            refused(agent.name)
            raise
        try:
            new = await store.add(batch) if batch else 0
        except StoreError as exc:
            targets.forget(agent, taken)
            raise IngestError(
                f"the store could not write the batch ({exc}); retry later", status=503
            ) from exc
        if metrics is not None:
            metrics.observe_ingest(agent.name, accepted=True, count=new)
        if on_accepted is not None and batch:
            on_accepted(agent.name, batch, received_at)
        if on_mark is not None and parsed.mark is not None:
            on_mark(agent.name, parsed.mark)
        return {"ok": True, "accepted": new, "duplicates": len(batch) - new}

    return router
