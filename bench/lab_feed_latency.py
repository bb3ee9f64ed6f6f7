"""How long the lab's route collector feed takes to say that a prefix was withdrawn.

    sudo python bench/lab_feed_latency.py [--rounds 10] [--prefix nv-g-]

Brings up the small test lab (its own namespace prefix), subscribes a RIS Live client
(in a vantage's namespace) to the government prefix and withdraws it `--rounds` times
(bgp_withdrawal, 2 s apart, each cleared again). For each withdrawal it prints the
delay from the collector's BIRD taking the withdrawal in (its `debug { routes }` log,
millisecond times) to the websocket message arriving, and from the `birdc` call on the
origin's router to the message. Tears the lab down at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from netvigil.lab import FaultSpec, lab_down, lab_up
from netvigil.lab.netns import exec_argv

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "lab" / "small.toml"
CLIENT = ROOT / "tests" / "lab" / "nsclient.py"
PREFIX = "192.0.2.0/26"


def bird_removals(log: Path) -> list[float]:
    """Times (epoch seconds) the collector's BIRD dropped PREFIX from its IPv4 session."""
    out: list[float] = []
    for line in log.read_text().splitlines():
        if "peer4" in line and f"removed [sole] {PREFIX} " in line:
            out.append(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").timestamp())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--prefix", default="nv-g-", help="the lab's namespace prefix")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 50))
    state = Path(tempfile.mkdtemp(prefix="nv-feed-"))
    lab = lab_up(SMALL, state_dir=state, prefix=args.prefix)
    try:
        assert lab.collector_url is not None
        seconds = rounds * 2.5 + 3
        argv = [sys.executable, str(CLIENT), "ris", lab.collector_url, str(seconds),
                json.dumps({"prefix": PREFIX})]  # fmt: skip
        client = subprocess.Popen(
            exec_argv(lab.host_ns("abroad"), argv), stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.5)
        called: list[float] = []
        for _ in range(rounds):
            called.append(time.time())
            fault_id = lab.apply_fault(FaultSpec(kind="bgp_withdrawal", target="gov", until=60))
            time.sleep(1.2)
            lab.clear_fault(fault_id)
            time.sleep(1.2)
        out, _ = client.communicate(timeout=seconds + 10)
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        received = [
            r["received"] for r in rows if PREFIX in r["message"]["data"].get("withdrawals", [])
        ]
        taken_in = bird_removals(state / "logs" / "bird-collector.log")
    finally:
        lab_down(state_dir=state, prefix=args.prefix, topology=lab.topology)
    from_bird = [r - b for r, b in zip(received, taken_in, strict=False)]
    from_call = [r - c for r, c in zip(received, called, strict=False)]
    report = {
        "rounds": rounds,
        "messages": len(received),
        "bird_to_websocket_s": _summary(from_bird),
        "birdc_to_websocket_s": _summary(from_call),
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
        "min": round(min(values), 3),
    }


if __name__ == "__main__":
    main()
