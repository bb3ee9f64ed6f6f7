"""Targets joining an incident by the hundred make a few `updated` events, not hundreds."""

from __future__ import annotations

from netvigil.config.model import Config
from netvigil.detect.detector import Detector
from netvigil.incident import EventKind
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase

INTERVAL = 10.0
T0 = 1_657_915_200.0
CUT = T0 + 600.0
N = 120
VANTAGES = ("v0", "v1", "v2")


def config() -> Config:
    return Config.model_validate(
        {
            "vantage": {"name": "v0", "in_country": False},
            "networks": [{"name": "gov"}],
            "services": [{"name": f"s{i}", "network": "gov"} for i in range(N)],
            "targets": [
                {
                    "kind": "tcp",
                    "name": f"t{i}",
                    "service": f"s{i}",
                    "host": "192.0.2.1",
                    "port": 1000 + i,
                    "interval_s": INTERVAL,
                }
                for i in range(N)
            ],
            "agents": [
                {"name": v, "token_sha256": "0" * 64, "in_country": False} for v in VANTAGES[1:]
            ],
        }
    )


def stream() -> list[Measurement]:
    out = []
    for i in range(N):
        for j, v in enumerate(VANTAGES):
            ts = T0 + ((i * len(VANTAGES) + j) * 0.027) % INTERVAL
            while ts < CUT + 300.0:
                ok = ts < CUT
                out.append(
                    Measurement(
                        id=f"{ts:015.3f}-{v}-{i}",
                        ts=ts,
                        vantage=v,
                        target=f"t{i}",
                        kind="tcp",
                        ok=ok,
                        outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
                        phase=None if ok else Phase.CONNECT,
                        timings={"connect": 0.02, "total": 0.02} if ok else {},
                    )
                )
                ts += INTERVAL
    return sorted(out, key=lambda m: m.ts)


def test_a_network_falling_at_once_is_one_incident_with_few_updates() -> None:
    detector = Detector(config(), lateness_s=5.0)
    events = detector.feed_many(stream()) + detector.flush()
    [incident] = detector.incidents()
    assert len(incident.targets) == N
    updates = [e for e in events if e.kind is EventKind.UPDATED]
    # Targets join over about three probe intervals; at most one update per half interval.
    assert 0 < len(updates) <= 3 * 2 + 2, [round(e.ts - CUT, 1) for e in updates]
    per_second: dict[int, int] = {}
    for e in updates:
        per_second[int(e.ts)] = per_second.get(int(e.ts), 0) + 1
    assert max(per_second.values()) == 1
