"""Measurement: the one record every probe yields and every later stage reads.

A probe returns an Observation (what it saw); the scheduler stamps it with identity
(id, time, vantage, target) to make a Measurement. Measurements travel as JSON objects
with the fields below (`to_json()`), which is also the format of `netvigil export
--format jsonl` and of agent ingest batches.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from netvigil.outcome import Outcome, Phase

__all__ = ["Measurement", "Observation", "measurement_list_adapter", "new_measurement_id"]


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
"""The 1,024 two-character Crockford base32 strings, indexed by a 10-bit value."""


class _IdState:
    """The state of the id generator: the last id made, and random bytes drawn in bulk."""

    __slots__ = ("last", "lock", "ms", "pool", "pos", "rand")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start afresh (also in a forked child: it must not repeat its parent's ids, and
        the lock may have been held by a thread the child does not have)."""
        self.lock = threading.Lock()
        self.ms = -1
        self.rand = 0
        self.last = ""
        self.pool = b""
        self.pos = _POOL_BYTES


_POOL_BYTES = 10 * 512
"""os.urandom is called once per 512 ids that need fresh randomness."""
_RAND_MAX = (1 << 80) - 1
_IDS = _IdState()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_IDS.reset)


def new_measurement_id(ts: float | None = None) -> str:
    """A unique id that sorts by time: a ULID (26 characters, Crockford base32).

    The first 48 bits are `ts` in milliseconds (now if None), the other 80 are random
    (os.urandom, drawn in bulk). It is a monotonic ULID: an id made in the same
    millisecond as the one before it takes that id's random part plus one, so ids made
    in order sort in order. The text is what `ulid.ULID` writes and parses; it is
    encoded here, ten bits at a time, because this runs once per measurement and is a
    few times faster than going through the library. Thread-safe; a forked child starts
    afresh. Raises ValueError for a time outside 1970..10889.
    """
    ms = time.time_ns() // 1_000_000 if ts is None else int(ts * 1000)
    if not 0 <= ms < 1 << 48:
        raise ValueError(f"timestamp {ts} is out of the ULID range")
    p = _PAIRS
    state = _IDS
    with state.lock:
        if ms == state.ms and state.rand < _RAND_MAX:
            r = state.rand = state.rand + 1
            head = state.last[:10]
        else:
            pos = state.pos
            if pos >= _POOL_BYTES:
                state.pool = os.urandom(_POOL_BYTES)
                pos = 0
            state.pos = pos + 10
            r = state.rand = int.from_bytes(state.pool[pos : pos + 10], "big")
            state.ms = ms
            head = "".join(
                (
                    p[ms >> 40],
                    p[ms >> 30 & 1023],
                    p[ms >> 20 & 1023],
                    p[ms >> 10 & 1023],
                    p[ms & 1023],
                )
            )
        state.last = text = "".join(
            (
                head,
                p[r >> 70],
                p[r >> 60 & 1023],
                p[r >> 50 & 1023],
                p[r >> 40 & 1023],
                p[r >> 30 & 1023],
                p[r >> 20 & 1023],
                p[r >> 10 & 1023],
                p[r & 1023],
            )
        )
    return text


@dataclass(slots=True)
class Observation:
    """What a probe saw. A failure is an Observation with ok=False, never an exception.

    timings maps phase names to seconds: `resolve`, `connect`, `tls`, `ttfb` (time to
    first byte after the request was sent) and `total`; a probe sets the ones it measured.
    """

    ok: bool
    outcome: Outcome
    phase: Phase | None = None
    timings: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    address: str | None = None


@dataclass(slots=True)
class Measurement:
    """One probe of one target from one vantage at one moment.

    ts is the start of the probe in seconds since the epoch (UTC). `phase` is where a
    failure happened (None when ok). `detail` holds probe-specific facts (HTTP status,
    DNS answers, certificate names, raw error text for `unknown`...). `address` is the
    IP address the probe talked to, when it got that far.
    """

    id: str
    ts: float
    vantage: str
    target: str
    kind: str
    ok: bool
    outcome: Outcome
    phase: Phase | None = None
    timings: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    address: str | None = None

    @classmethod
    def from_observation(
        cls,
        obs: Observation,
        *,
        vantage: str,
        target: str,
        kind: str,
        ts: float | None = None,
    ) -> Measurement:
        """Stamp an Observation with identity: a fresh sortable id, time, vantage, target."""
        if ts is None:
            ts = time.time()
        return cls(
            id=new_measurement_id(ts),
            ts=ts,
            vantage=vantage,
            target=target,
            kind=kind,
            ok=obs.ok,
            outcome=obs.outcome,
            phase=obs.phase,
            timings=obs.timings,
            detail=obs.detail,
            address=obs.address,
        )

    @property
    def total_s(self) -> float | None:
        """Total duration of the probe in seconds, when measured."""
        return self.timings.get("total")

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (export, ingest, `check --json`)."""
        return {
            "id": self.id,
            "ts": self.ts,
            "vantage": self.vantage,
            "target": self.target,
            "kind": self.kind,
            "ok": self.ok,
            "outcome": self.outcome.value,
            "phase": self.phase.value if self.phase is not None else None,
            "timings": self.timings,
            "detail": self.detail,
            "address": self.address,
        }


measurement_list_adapter: TypeAdapter[list[Measurement]] = TypeAdapter(list[Measurement])
"""Validates a list of JSON measurement objects (agent batches, JSONL imports)."""
