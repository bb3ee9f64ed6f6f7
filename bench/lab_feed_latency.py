"""How long a BGP withdrawal takes to show: on the lab's route collector feed, and in
`netvigil run`'s API.

    sudo python bench/lab_feed_latency.py [--rounds 10] [--prefix nv-b-]              # feed
    sudo python bench/lab_feed_latency.py --netvigil [--rounds 6] [--prefix nv-b-]    # API

Both bring up the small test lab (with its own namespace prefix and state directory) and
withdraw the government network's prefixes `--rounds` times (bgp_withdrawal, each
cleared again), then tear the lab down.

Feed (the default): a RIS Live client in a vantage's namespace subscribes to the
government prefix; per withdrawal, the delay from the collector's BIRD taking it in
(its `debug { routes }` log, millisecond times) to the websocket message arriving, and
from the `birdc` call on the origin's router to the message.

API (`--netvigil`): `netvigil run` runs in the `abroad` vantage's namespace with the
config the lab generates (its targets, the collector's feed as `[[bgp]]`, its API on
127.0.0.1:8780), and a client there asks `GET /api/v1/networks/gov/bgp` every 50 ms.
Per withdrawal: from the feed's timestamp of it (the collector's reading that found it
gone: `t` of the withdrawal event the API lists) to the API's visibility of the network
falling, and to the API listing the withdrawal event; and from the collector's BIRD
taking it in to the visibility falling. Each round waits until the API shows the
network back before the next.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from netvigil.lab import FaultSpec, Lab, lab_down, lab_up
from netvigil.lab.netns import exec_argv

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "lab" / "small.toml"
CLIENT = ROOT / "tests" / "lab" / "nsclient.py"
PREFIX = "192.0.2.0/26"
LISTEN = "127.0.0.1:8780"
API = f"http://{LISTEN}/api/v1/networks/gov/bgp"
SHOW_TIMEOUT_S = 30.0
"""The longest a round waits for the API to show a withdrawal (or the network back)."""


def bird_removals(log: Path) -> list[float]:
    """Times (epoch seconds) the collector's BIRD dropped PREFIX from its IPv4 session."""
    out: list[float] = []
    for line in log.read_text().splitlines():
        if "peer4" in line and f"removed [sole] {PREFIX} " in line:
            out.append(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").timestamp())
    return out


def feed_rounds(lab: Lab, rounds: int) -> tuple[list[float], list[float]]:
    """Withdraw `rounds` times with a RIS Live client listening; when each message came,
    and when each withdrawal was asked for."""
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
    return received, called


class ApiWatch:
    """Answers of `netvigil run`'s BGP route, read by a client in a lab namespace."""

    def __init__(self, lab: Lab, host: str, seconds: float) -> None:
        argv = [sys.executable, str(CLIENT), "poll", API, str(seconds)]
        self.proc = subprocess.Popen(
            exec_argv(lab.host_ns(host), argv), stdout=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.put(json.loads(line))

    def until(self, check: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
        """The first answer (with its `received` time) `check` holds for; RuntimeError
        after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                row = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if "body" in row and check(row["body"]):
                return row
        raise RuntimeError(f"netvigil run's API did not show it within {timeout_s:g} s")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def withdrawals_after(body: dict[str, Any], t: float) -> list[dict[str, Any]]:
    """The withdrawal events of the network's API answer that happened after `t`."""
    return [e for e in body.get("events", []) if e["kind"] == "withdrawal" and e["t"] > t]


def _withdrawn_after(t: float) -> Callable[[dict[str, Any]], bool]:
    """A check of an API answer: it lists a withdrawal after `t`."""
    return lambda body: bool(withdrawals_after(body, t))


def api_rounds(lab: Lab, rounds: int) -> list[dict[str, float]]:
    """Withdraw `rounds` times with `netvigil run` watching; per round, the feed's time of
    the withdrawal, when it was asked for, and when the API showed it."""
    config = lab.write_config("abroad", interval_s=5.0, listen=LISTEN)
    seconds = rounds * 40 + 120
    argv = lab.python("netvigil", "run", "-c", str(config), "--plain", "--duration", str(seconds))
    lab.spawn("abroad", "netvigil:run", argv)
    watch = ApiWatch(lab, "abroad", seconds)
    out: list[dict[str, float]] = []
    try:
        watch.until(lambda b: b.get("visibility") == 1.0, 90.0)  # up, subscribed, table in
        for _ in range(rounds):
            called = time.time()
            fault_id = lab.apply_fault(FaultSpec(kind="bgp_withdrawal", target="gov", until=600))
            fell = watch.until(lambda b: (b.get("visibility") or 0.0) < 1.0, SHOW_TIMEOUT_S)
            listed = watch.until(_withdrawn_after(called), SHOW_TIMEOUT_S)
            event = withdrawals_after(listed["body"], called)[0]
            out.append({"called": called, "feed_t": event["t"], "fell": fell["received"],
                        "listed": listed["received"]})  # fmt: skip
            lab.clear_fault(fault_id)
            watch.until(lambda b: b.get("visibility") == 1.0, SHOW_TIMEOUT_S)
            time.sleep(2.0)
    finally:
        watch.stop()
        lab.stop("netvigil:run")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--prefix", default="nv-b-", help="the lab's namespace prefix")
    parser.add_argument("--netvigil", action="store_true", help="up to netvigil run's API")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 50))
    state = Path(tempfile.mkdtemp(prefix="nv-feed-"))
    lab = lab_up(SMALL, state_dir=state, prefix=args.prefix)
    try:
        if args.netvigil:
            shown = api_rounds(lab, rounds)
        else:
            received, called = feed_rounds(lab, rounds)
        taken_in = bird_removals(state / "logs" / "bird-collector.log")
    finally:
        lab_down(state_dir=state, prefix=args.prefix, topology=lab.topology)
    if args.netvigil:
        report = api_report(shown, taken_in)
    else:
        report = {
            "rounds": rounds,
            "messages": len(received),
            "bird_to_websocket_s": _summary(
                [r - b for r, b in zip(received, taken_in, strict=False)]
            ),
            "birdc_to_websocket_s": _summary(
                [r - c for r, c in zip(received, called, strict=False)]
            ),
        }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


def api_report(shown: list[dict[str, float]], taken_in: list[float]) -> dict[str, Any]:
    """The delays of every round and their summaries."""
    bird = [next((b for b in taken_in if b >= r["called"]), float("nan")) for r in shown]
    return {
        "rounds": len(shown),
        "feed_to_visibility_drop_s": _summary([r["fell"] - r["feed_t"] for r in shown]),
        "feed_to_withdrawal_event_s": _summary([r["listed"] - r["feed_t"] for r in shown]),
        "bird_to_visibility_drop_s": _summary(
            [r["fell"] - b for r, b in zip(shown, bird, strict=True)]
        ),
        "birdc_to_visibility_drop_s": _summary([r["fell"] - r["called"] for r in shown]),
        "per_round": [
            {k: round(v - r["called"], 3) for k, v in r.items() if k != "called"}
            | {"bird_t": round(b - r["called"], 3)}
            for r, b in zip(shown, bird, strict=True)
        ],
    }


def _summary(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v == v]  # nan: no BIRD line for that round
    if not values:
        return {}
    return {
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
        "min": round(min(values), 3),
    }


if __name__ == "__main__":
    main()
