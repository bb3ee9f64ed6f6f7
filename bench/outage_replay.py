"""The large outage of `bench/outage_load.py`, replayed in process through the detector.

    .venv/bin/python bench/outage_replay.py --repeat 3

The same shape as the live bench, without a server, sockets or other threads, so the
detector's own cost can be compared between two versions of the code far more steadily
than in the live server: 50 targets only the server probes, 200 targets on 20 networks
that the server and 4 agents (2 in-country, 2 abroad) probe, and a canary, every 10 s;
the server's probes spread over the interval, each agent's 200 results stamped within
the second before its round (staggered by a quarter interval). 120 s healthy, then 150 s
in which the 200 targets fail (the server's probes refused, the agents' timing out).
Results arrive in arrival order (the server's 10 ms after their time stamp, the agents'
50 ms after their round), and as `netvigil run`'s detection worker does, the detector
(with `netvigil run`'s lateness of 5 s and the same current state it keeps there, with
the progress listener of `netvigil run` on it, logging at INFO as `netvigil run` does, to
/dev/null here) is advanced to the clock once a second.

With `--exact`, as `netvigil run` with agents that send marks (`netvigil agent`): the
server's own results go by its scheduler's exact watermark (the oldest of its probes in
flight: here each result's arrival less its 10 ms), and each agent's last batch of a
round carries its mark, and a mark goes alone every second between rounds (nothing of
it older than a second before its next round is still to come).

Per pass and phase: measurements per CPU-second of the detector; over all passes the
longest calls (`feed` or `advance`, each call's CPU time the least over the passes, and
less the collections that fell into it) and a digest of the events (two versions of the
detector that agree on it emitted the same events). Writes
`bench/results/outage_replay.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
from dataclasses import astuple
from pathlib import Path
from typing import Any

from detector_throughput import Driver, add_call_options, events_digest

from netvigil.cli._live import LatestState
from netvigil.config.model import Config
from netvigil.detect.detector import CallBudget, Detector
from netvigil.detect.local_watermark import LocalWatermark
from netvigil.incident import IncidentEvent
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.pipeline.worker import settle_collector
from netvigil.state.current import CurrentState, StatePolicy

INTERVAL = 10.0
T0 = 1_800_000_000.0
HEALTHY_S = 120.0
OUTAGE_S = 150.0
LATENESS_S = 5.0
"""`netvigil run`'s default (`[detect] lateness_s`)."""
AGENTS = 4


def _target(kind: str, name: str, service: str, **where: Any) -> dict[str, Any]:
    return {"kind": kind, "name": name, "service": service, "interval_s": INTERVAL, **where}


def _kind(target: str) -> str:
    """Own targets are TCP, outage targets alternate HTTP and TCP, the canary is HTTP."""
    if target.startswith("own") or (target.startswith("out") and int(target[4:]) % 2):
        return "tcp"
    return "http"


def build_config() -> Config:
    """The server's config in `bench/outage_load.py` (names and shape; loopback addresses
    that nothing here connects to)."""
    services: list[dict[str, Any]] = [{"name": f"own-svc-{i:03d}"} for i in range(50)]
    services += [
        {
            "name": f"svc-{i:03d}",
            "network": f"net-{i % 20:02d}",
            "organization": f"org-{i % 20:02d}",
        }
        for i in range(200)
    ]
    services.append({"name": "canary", "network": "canary-net", "organization": "canary-org"})
    targets: list[dict[str, Any]] = [
        _target("tcp", f"own-{i:03d}", f"own-svc-{i:03d}", host="127.13.1.1", port=1000 + i)
        for i in range(50)
    ]
    for i in range(200):
        name, service = f"out-{i:03d}", f"svc-{i:03d}"
        if i % 2:
            targets.append(_target("tcp", name, service, host="127.13.2.1", port=2000 + i))
        else:
            targets.append(_target("http", name, service, url=f"http://127.13.2.2:{2000 + i}/"))
    targets.append(_target("http", "canary-http", "canary", url="http://127.13.3.1/"))
    return Config.model_validate(
        {
            "vantage": {"name": "server", "in_country": True},
            "networks": [{"name": f"net-{i:02d}"} for i in range(20)] + [{"name": "canary-net"}],
            "organizations": [{"name": f"org-{i:02d}"} for i in range(20)]
            + [{"name": "canary-org"}],
            "services": services,
            "targets": targets,
            "agents": [
                {"name": f"agent-{k + 1}", "token_sha256": "0" * 64, "in_country": k % 2 == 0}
                for k in range(AGENTS)
            ],
        }
    )


def _probe(
    n: int, target: str, vantage: str, ts: float, kind: str, failure: Outcome | None
) -> Measurement:
    """The `n`-th measurement; its id sorts by time, as a real one (a ULID) does, but is
    the same on every pass, so that the events are too."""
    ok = failure is None
    return Measurement(
        id=f"{int(ts * 1000):013d}-{n:07d}", ts=ts, vantage=vantage, target=target,
        kind=kind, ok=ok,
        outcome=Outcome.OK if failure is None else failure,
        phase=None if ok else Phase.CONNECT,
        timings={"connect": 0.002, "total": 0.004} if ok else {"total": 5.0},
    )  # fmt: skip


def build_stream(seed: int) -> list[tuple[float, Measurement]]:
    """(arrival time, measurement), in arrival order; see the module docstring."""
    rng = random.Random(seed)
    end, cut = T0 + HEALTHY_S + OUTAGE_S, T0 + HEALTHY_S
    out: list[tuple[float, Measurement]] = []
    names = [f"own-{i:03d}" for i in range(50)] + [f"out-{i:03d}" for i in range(200)]
    for name in [*names, "canary-http"]:
        ts = T0 + rng.uniform(0.0, INTERVAL)
        while ts < end:
            failure = Outcome.TCP_REFUSED if name.startswith("out") and ts >= cut else None
            out.append((ts + 0.01, _probe(len(out), name, "server", ts, _kind(name), failure)))
            ts += INTERVAL
    for k in range(AGENTS):
        round_at = T0 + k * INTERVAL / AGENTS
        while round_at < end:
            for i in range(200):
                ts = round_at - rng.random()
                failure = Outcome.TCP_TIMEOUT if ts >= cut else None
                name = f"out-{i:03d}"
                m = _probe(len(out), name, f"agent-{k + 1}", ts, _kind(name), failure)
                out.append((round_at + 0.05, m))
            round_at += INTERVAL
    out.sort(key=lambda am: am[0])
    return out


class _ServerInFlight:
    """The server's scheduler's watermark, as its results arrive (see the docstring)."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> float:
        return self.at


def _agent_mark(k: int, now: float) -> float:
    """Agent `k`'s mark at `now`: nothing of its next round not yet posted (a round is
    posted 50 ms after its time) is stamped before a second ahead of it (see
    `build_stream`)."""
    offset = k * INTERVAL / AGENTS
    posted = math.floor((now - T0 - offset - 0.05 + 1e-9) / INTERVAL)
    return min(now, T0 + offset + INTERVAL * (posted + 1) - 1.0)


def replay(
    config: Config,
    stream: list[tuple[float, Measurement]],
    *,
    budget: CallBudget | None,
    collect_at: int | None,
    exact: bool = False,
) -> dict[str, Any]:
    """One pass through a fresh detector, as `netvigil run` runs it; see the module docstring."""
    current = CurrentState(config, StatePolicy())
    LatestState(current)  # netvigil run's progress listener, on the detection thread
    detector = Detector(config, lateness_s=LATENESS_S, state=current)
    settle_collector()
    busy = {"healthy": 0.0, "outage": 0.0}
    count = {"healthy": 0, "outage": 0}
    events: list[IncidentEvent] = []
    tick = T0 + 1.0
    in_flight = _ServerInFlight()
    local = LocalWatermark("server", in_flight) if exact else None
    if local is not None:
        detector.follow(local)
    agents = [f"agent-{k + 1}" for k in range(AGENTS)]
    with Driver(detector, budget=budget, collect_at=collect_at, call_cpu=True) as drive:
        for n, (arrival, m) in enumerate(stream):
            phase = "outage" if arrival >= T0 + HEALTHY_S else "healthy"
            busy0 = drive.busy_s
            while arrival >= tick:
                if exact:  # the marks that went alone in the second before
                    for k, agent in enumerate(agents):
                        events.extend(drive.mark(agent, _agent_mark(k, tick), "mark"))
                events.extend(drive.advance(tick, f"advance at {tick - T0:.0f} s"))
                tick += 1.0
            if local is not None and m.vantage == "server":
                in_flight.at = arrival - 0.01
                local.note(m)
            events.extend(drive.feed(m, f"feed at {arrival - T0:.1f} s"))
            if exact and m.vantage != "server":
                after = stream[n + 1] if n + 1 < len(stream) else None
                if after is None or after[1].vantage != m.vantage or after[0] != arrival:
                    k = agents.index(m.vantage)  # its round's last: the mark with it
                    events.extend(drive.mark(m.vantage, _agent_mark(k, arrival), "mark"))
            busy[phase] += drive.busy_s - busy0
            count[phase] += 1
    pauses = drive.pauses
    return {
        "per_cpu_second": {p: round(count[p] / busy[p]) for p in busy},
        "calls": list(zip(drive.cpu, drive.gc, drive.what, strict=True)),
        "events": events,
        "incidents": len(detector.incidents()),
        "collections": pauses.count,
        "collection_max_ms": round(pauses.longest_s * 1000, 2),
        "collections_by_generation": pauses.summary(),
        "collections_in_calls_max_ms": round(max(drive.gc, default=0.0) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes, 1..10 (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--exact", action="store_true", help="exact watermarks: the server's and agents' marks"
    )
    add_call_options(parser)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "outage_replay.json"
    )
    args = parser.parse_args()
    if not 1 <= args.repeat <= 10:
        parser.error("bounded run: --repeat 1..10")
    # As `netvigil run` logs: INFO and up, formatted and written (here to /dev/null).
    with open(os.devnull, "w") as devnull:
        logging.basicConfig(level=logging.INFO, stream=devnull)
        run(args)


def run(args: argparse.Namespace) -> None:
    """The passes and the report (see `main`)."""
    config = build_config()
    stream = build_stream(args.seed)
    drive = {"budget": args.budget, "collect_at": args.collect_at or None, "exact": args.exact}
    runs = [replay(config, stream, **drive) for _ in range(args.repeat)]
    per_call = [
        (min(c[0] for c in same), min(c[0] - c[1] for c in same), same[0][2])
        for same in zip(*(r["calls"] for r in runs), strict=True)
    ]
    longest = sorted(per_call, reverse=True)[:5]
    less_gc = sorted(per_call, key=lambda c: c[1], reverse=True)[:5]
    digests = sorted({events_digest(r["events"]) for r in runs})
    result = {
        "measurements": len(stream),
        "repeat": args.repeat,
        "budget": None if args.budget is None else list(astuple(args.budget)),
        "collect_at": drive["collect_at"],
        "exact": args.exact,
        "calls": len(per_call),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "per_cpu_second_healthy": [r["per_cpu_second"]["healthy"] for r in runs],
        "per_cpu_second_outage": [r["per_cpu_second"]["outage"] for r in runs],
        "longest_calls_cpu_ms": [(round(c * 1000, 2), what) for c, _, what in longest],
        "longest_calls_less_gc_cpu_ms": [(round(c * 1000, 2), what) for _, c, what in less_gc],
        "calls_over_10ms_cpu": sum(1 for c in per_call if c[0] > 0.010),
        "calls_over_10ms_cpu_less_gc": sum(1 for c in per_call if c[1] > 0.010),
        "collections": [r["collections"] for r in runs],
        "collection_max_ms": [r["collection_max_ms"] for r in runs],
        "collections_by_generation": [r["collections_by_generation"] for r in runs],
        "collections_in_calls_max_ms": [r["collections_in_calls_max_ms"] for r in runs],
        "events": len(runs[0]["events"]),
        "incidents": runs[0]["incidents"],
        "events_sha256": digests[0] if len(digests) == 1 else digests,
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
