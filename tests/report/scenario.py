"""A hand-built shutdown for report tests: three government services cut off, one stays up.

Modelled on Albania, July 2022: e-albania, kryeministria and parlament on network
`govnet` go silent from both vantages (`tirana` in the country, `frankfurt` abroad)
at ONSET, while the tax portal `tatime` of the same organization on `taxnet` keeps
answering. A control target lets the detector vouch for both vantages.
"""

from __future__ import annotations

import random
from typing import Any

from netvigil.config.model import Config
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase

ONSET = 1_658_005_440.0  # 2022-07-16 21:04:00 UTC
GOV = ("e-albania", "kryeministria", "parlament")
UP = "tatime"
VANTAGES = ("frankfurt", "tirana")
BASE_LATENCY = {"tirana": 0.018, "frankfurt": 0.046}


def target(service: str) -> str:
    return f"{service}-https"


def config(interval_s: float) -> Config:
    """The observatory: four services, one control, two vantages."""
    services: list[dict[str, Any]] = [
        {"name": s, "network": "govnet", "organization": "government"} for s in GOV
    ]
    services.append({"name": UP, "network": "taxnet", "organization": "government"})
    targets: list[dict[str, Any]] = [
        {
            "kind": "http",
            "name": target(s["name"]),
            "service": s["name"],
            "url": f"https://{s['name']}.example/",
            "interval_s": interval_s,
        }
        for s in services
    ]
    targets.append(
        {
            "kind": "tcp",
            "name": "control",
            "control": True,
            "host": "192.0.2.53",
            "port": 443,
            "interval_s": interval_s,
        }
    )
    return Config.model_validate(
        {
            "vantage": {"name": "tirana", "country": "AL", "in_country": True},
            "networks": [{"name": "govnet"}, {"name": "taxnet"}],
            "organizations": [{"name": "government"}],
            "services": services,
            "targets": targets,
            "agents": [
                {"name": "frankfurt", "token_sha256": "0" * 64, "country": "DE"},
            ],
        }
    )


def measurements(
    *, interval_s: float, before_s: float, outage_s: float, after_s: float, seed: int = 7
) -> list[Measurement]:
    """Every target from every vantage each interval; the government targets silent in
    [ONSET, ONSET + outage_s)."""
    rng = random.Random(seed)
    names = [*(target(s) for s in (*GOV, UP)), "control"]
    out: list[Measurement] = []
    for i, (name, vantage) in enumerate((n, v) for n in names for v in VANTAGES):
        ts = ONSET - before_s + (i * 0.37) % interval_s
        while ts < ONSET + outage_s + after_s:
            down = name in {target(s) for s in GOV} and ONSET <= ts < ONSET + outage_s
            latency = BASE_LATENCY[vantage] * rng.uniform(0.85, 1.25)
            out.append(
                Measurement(
                    id=f"{ts:014.3f}-{vantage}-{name}",
                    ts=ts,
                    vantage=vantage,
                    target=name,
                    kind="tcp" if name == "control" else "http",
                    ok=not down,
                    outcome=Outcome.TCP_TIMEOUT if down else Outcome.OK,
                    phase=Phase.CONNECT if down else None,
                    timings={} if down else {"connect": latency, "total": latency * 2.5},
                )
            )
            ts += interval_s
    out.sort(key=lambda m: (m.ts, m.id))
    return out
