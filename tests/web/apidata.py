"""Test data for the web API tests: a small config, measurements and incidents in a real store."""

from __future__ import annotations

import itertools
from typing import Any

from netvigil.cause import Cause, Evidence, Topic
from netvigil.config.model import (
    AgentConfig,
    Config,
    NetworkConfig,
    ServerConfig,
    ServiceConfig,
    VantageConfig,
)
from netvigil.incident import CauseChange, EventKind, Incident, IncidentEvent, IncidentState
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase
from netvigil.probes import TCPSpec
from netvigil.store.sqlite import SQLiteStore

NOW = 1_699_999_980.0
"""The tests' wall clock (a round minute, epoch seconds)."""
AGENT_HASH = "0" * 64

_seq = itertools.count()


def make_config(**server: Any) -> Config:
    """Three services: portal (down everywhere), tax (up), parliament (down from one vantage)."""
    return Config(
        vantage=VantageConfig(name="tirana", country="AL"),
        networks=[NetworkConfig(name="gov"), NetworkConfig(name="other")],
        services=[
            ServiceConfig(name="portal", description="e-Albania portal", network="gov"),
            ServiceConfig(name="tax", description="Tax office", network="other"),
            ServiceConfig(name="parliament", network="gov"),
            ServiceConfig(name="quiet"),
        ],
        targets=[
            TCPSpec(name="portal-tcp", service="portal", host="192.0.2.10", port=443),
            TCPSpec(name="tax-tcp", service="tax", host="198.51.100.20", port=443),
            TCPSpec(name="parliament-tcp", service="parliament", host="192.0.2.30", port=443),
            TCPSpec(name="quiet-tcp", service="quiet", host="192.0.2.40", port=443),
            TCPSpec(name="control", control=True, host="203.0.113.1", port=443),
        ],
        agents=[AgentConfig(name="frankfurt", token_sha256=AGENT_HASH, country="DE")],
        server=ServerConfig(**server),
    )


def measurement(target: str, vantage: str, ts: float, ok: bool) -> Measurement:
    """One TCP measurement; a failure is a timeout in the connect phase."""
    return Measurement(
        id=new_measurement_id(ts) + f"{next(_seq):06d}",
        ts=ts,
        vantage=vantage,
        target=target,
        kind="tcp",
        ok=ok,
        outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
        phase=None if ok else Phase.CONNECT,
        timings={"connect": 0.02, "total": 0.02} if ok else {},
        detail={},
        address="192.0.2.10",
    )


def history() -> list[Measurement]:
    """Ten minutes, one result per minute per pair: portal falls at NOW-300 from both."""
    out = []
    for i in range(10):
        ts = NOW - 600 + i * 60
        for vantage in ("tirana", "frankfurt"):
            out.append(measurement("portal-tcp", vantage, ts, ok=ts < NOW - 300))
            out.append(measurement("tax-tcp", vantage, ts, ok=True))
            out.append(measurement("control", vantage, ts, ok=True))
            ok = vantage == "frankfurt" or ts < NOW - 120
            out.append(measurement("parliament-tcp", vantage, ts, ok=ok))
    return out


def incident(n: int = 1, *, end: float | None = None) -> Incident:
    """A confirmed shutdown of portal and parliament (resolved when `end` is given)."""
    start = NOW - 300
    return Incident(
        id=f"inc-{n}",
        state=IncidentState.RESOLVED if end is not None else IncidentState.CONFIRMED,
        start=start,
        first_measurement_id="m-1",
        confirmed_at=start + 60,
        end=end,
        cause=Cause.SHUTDOWN,
        confidence=0.8,
        services=["portal", "parliament"],
        targets=["portal-tcp", "parliament-tcp"],
        networks=["gov"],
        vantages=["tirana", "frankfurt"],
        evidence=[
            Evidence("controls answered from 2 vantages", Topic.VANTAGE, 1.0, Cause.SHUTDOWN)
        ],
        cause_history=[
            CauseChange(start + 60, Cause.UNKNOWN, 0.3),
            CauseChange(start + 120, Cause.SHUTDOWN, 0.8),
        ],
        probabilities={"shutdown": 0.8, "unknown": 0.2},
        updated=start + 120,
    )


async def fill(store: SQLiteStore) -> Incident:
    """Store the history and one open incident with three events; returns the incident."""
    await store.add(history())
    inc = incident()
    for kind, ts in ((EventKind.OPENED, NOW - 300), (EventKind.CONFIRMED, NOW - 240)):
        await store.add_incident_event(IncidentEvent(kind, ts, inc))
    await store.add_incident_event(IncidentEvent(EventKind.CAUSE_CHANGED, NOW - 180, inc))
    await store.save_incident(inc)
    return inc
