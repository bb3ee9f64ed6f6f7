"""BGP throughput: elements per CPU-second through netvigil's BGP paths, beside the parser alone.

MRT (one real dump, every path over the same file, best of `--repeat` runs):

- `parser`: bare `pybgpkit_parser.Parser` iteration, nothing done per element (the floor);
- `import`: `import_mrt(check=False)`: the parser plus the conversion to `BgpElement`;
- `import+walk`: `import_mrt()`, which also walks the MRT record headers (damage check);
- `import+visibility`: `import_mrt()` feeding `PrefixVisibility` with `--networks`
  networks made of prefixes in the file: what `netvigil bgp import -c` and an `mrt` feed do;
- `legacy import`: `import_mrt()` of a 1999 RIS update file (MRT type 5), which netvigil
  decodes itself because the binding cannot (it reads 0 elements of it).

RIS Live (a replay server in a child process on 127.0.0.1, so its CPU is not counted):

- `decode`: `decode_ris_message` over the same messages in memory (no socket);
- `client`: `RisLiveClient` reading `--messages` messages from the server over a websocket,
  each element into `PrefixVisibility`; CPU of this process from the first message to the
  last. Every element concerns a watched network (one holds 45.0.0.0/8, the other the AS
  originating every IPv6 prefix): the worst case. `client, nothing watched` is the same
  stream into a visibility watching nothing: the transport and decoding alone.

A peer on the same MRT files in the same run: `bgpdump` (libbgpdump 1.6.2, RIPE NCC's C
MRT reader, as Debian packages it), `bgpdump -m FILE`, which prints one line per element
(`A` announcement, `W` withdrawal, `B` RIB entry; `STATE` lines, peer session changes,
are not elements and are not counted). Per file: netvigil's `import_mrt()` (the walk and
the conversion to `BgpElement`, as `netvigil bgp import` reads) beside it, best of
`--repeat` runs each: elements per CPU-second (bgpdump's: its process's user + system
CPU, its output read through a pipe and counted here, outside the measure), the ratio
netvigil/bgpdump and whether the element counts agree. bgpdump is a GPL program used
only as this benchmark's peer: it is run as a separate process, never imported, linked
or shipped, and no test needs it. Install it from Debian before running the bench:

    sudo apt-get install bgpdump

Without it the bench says so and measures the rest. bgpkit's own command line
(`bgpkit-parser`, a Rust program) would be another peer, but cargo cannot reach
crates.io here, so it is not measured.

    .venv/bin/python bench/bgp_throughput.py
    .venv/bin/python bench/bgp_throughput.py --file \
        ../shared/data/bgp_mrt/libbgpstream/test/routeviews.route-views.jinx.updates.1427846400.bz2
    .venv/bin/python bench/bgp_throughput.py --messages 50000 --repeat 5

Prints a table with the ratios to the parser alone, the table beside bgpdump, and writes
bench/results/bgp_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import orjson
import pybgpkit_parser

from netvigil.bgp.feed_state import FeedState
from netvigil.bgp.model import BgpItem
from netvigil.bgp.mrt import import_mrt
from netvigil.bgp.ris_live import Backoff, RisLiveClient
from netvigil.bgp.ris_messages import decode_ris_message, subscriptions
from netvigil.bgp.visibility import PrefixVisibility
from netvigil.config.model import NetworkConfig
from netvigil.signal import SignalEvent, SignalSample

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NETVIGIL_DATA") or REPO.parent / "shared" / "data") / "bgp_mrt"
DEFAULT_FILE = DATA / "bgpkit-parser/tests/fixtures/ripe/rrc15/2010.02/updates.20100227.1600.gz"
LEGACY_FILE = DATA / "bgpkit-parser/tests/fixtures/ripe/rrc00/1999.09/updates.19990903.1041.gz"
BGPKIT_MESSAGE = DATA / "bgpkit-parser/src/wasm/test/fixtures/ris_live_raw_full.json"
LIBBGPSTREAM_STREAM = DATA / "libbgpstream/test/ris-live-stream.json"
PEER_FILES = [
    DATA / "libbgpstream/test/routeviews.route-views.jinx.updates.1427846400.bz2",
    LEGACY_FILE,
    DATA / "bgpkit-parser/tests/fixtures/ripe/rrc00/2000.01/bview.20000111.0032.gz",
]
"""Files read by netvigil and bgpdump besides `--file`: RouteViews updates (bz2), RIS
updates of 1999 (MRT type 5) and a RIS RIB dump of 2000 (batched TABLE_DUMP)."""
BGPDUMP_KINDS = (b"A", b"W", b"B")
"""The `bgpdump -m` line types that are elements."""
TIME_LIMIT_S = 120.0


class CountingSink:
    """Counts what the visibility hands on."""

    def __init__(self) -> None:
        self.samples = 0
        self.events = 0

    def sample(self, sample: SignalSample) -> None:
        self.samples += 1

    def event(self, event: SignalEvent) -> None:
        self.events += 1


def cpu() -> float:
    return time.process_time()


def best(runs: int, measure: Callable[[], tuple[int, float]]) -> tuple[int, float]:
    """(elements, CPU seconds) of the fastest of `runs` runs."""
    results = [measure() for _ in range(runs)]
    return min(results, key=lambda r: r[1])


def networks_in(file: Path, count: int) -> list[NetworkConfig]:
    """`count` networks, each one /16 around a prefix the file announces."""
    seen: list[str] = []
    for elem in pybgpkit_parser.Parser(url=str(file)):
        if elem.elem_type != "A" or ":" in elem.prefix:
            continue
        net = str(ip_network(elem.prefix).supernet(new_prefix=16))
        if net not in seen:
            seen.append(net)
        if len(seen) >= count:
            break
    return [NetworkConfig(name=f"n{i}", prefixes=[ip_network(p)]) for i, p in enumerate(seen)]


def mrt_paths(file: Path, runs: int, networks: list[NetworkConfig]) -> dict[str, dict[str, Any]]:
    def parser() -> tuple[int, float]:
        start = cpu()
        n = sum(1 for _ in pybgpkit_parser.Parser(url=str(file)))
        return n, cpu() - start

    def plain_import() -> tuple[int, float]:
        start = cpu()
        report = import_mrt(file, check=False)
        return report.elements, cpu() - start

    def walked_import() -> tuple[int, float]:
        start = cpu()
        report = import_mrt(file)
        return report.elements, cpu() - start

    def visibility_import() -> tuple[int, float]:
        visibility = PrefixVisibility(networks, CountingSink(), source="mrt")
        start = cpu()
        report = import_mrt(file, visibility.update)
        visibility.flush(visibility.latest + 1.0)
        return report.elements, cpu() - start

    def legacy_import() -> tuple[int, float]:
        start = cpu()
        report = import_mrt(LEGACY_FILE)
        return report.elements, cpu() - start

    out: dict[str, dict[str, Any]] = {}
    for name, measure in (
        ("parser", parser),
        ("import", plain_import),
        ("import+walk", walked_import),
        ("import+visibility", visibility_import),
        ("legacy import", legacy_import),
    ):
        elements, cpu_s = best(runs, measure)
        out[name] = {"elements": elements, "cpu_s": cpu_s, "per_cpu_s": elements / cpu_s}
    return out


def children_cpu() -> float:
    """User + system CPU of this process's children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bgpdump_once(bgpdump: str, file: Path) -> tuple[int, float]:
    """(elements, CPU seconds) of one `bgpdump -m FILE`: its lines of element types."""
    before = children_cpu()
    done = subprocess.run(
        [bgpdump, "-m", str(file)], capture_output=True, timeout=TIME_LIMIT_S, check=False
    )
    cpu_s = children_cpu() - before
    if done.returncode != 0:
        raise RuntimeError(f"bgpdump {file.name}: exit {done.returncode}: {done.stderr[-300:]!r}")
    kinds = (line.split(b"|", 3)[2:3] for line in done.stdout.splitlines())
    return sum(1 for k in kinds if k and k[0] in BGPDUMP_KINDS), cpu_s


def peer_table(files: list[Path], runs: int, bgpdump: str) -> list[dict[str, Any]]:
    """netvigil's import and bgpdump over each of `files`, best of `runs` each (a ratio
    is only printed where both read the same number of elements)."""

    def netvigil(file: Path) -> tuple[int, float]:
        start = cpu()
        report = import_mrt(file)
        return report.elements, cpu() - start

    rows: list[dict[str, Any]] = []
    for file in files:
        ours, ours_s = best(runs, partial(netvigil, file))
        theirs, theirs_s = best(runs, partial(bgpdump_once, bgpdump, file))
        rows.append({
            "file": file.name, "netvigil_elements": ours, "netvigil_cpu_s": ours_s,
            "netvigil_per_cpu_s": ours / ours_s, "bgpdump_elements": theirs,
            "bgpdump_cpu_s": theirs_s, "bgpdump_per_cpu_s": theirs / theirs_s if theirs_s else 0.0,
        })  # fmt: skip
    return rows


def print_peer_table(rows: list[dict[str, Any]], runs: int) -> None:
    print(f"\nbeside bgpdump -m (best of {runs}; elements per CPU-second)")
    print(f"{'file':<52}{'netvigil':>10}{'bgpdump':>10}{'same':>6}"
          f"{'netvigil/s':>12}{'bgpdump/s':>12}{'ratio':>7}")  # fmt: skip
    for r in rows:
        same = r["netvigil_elements"] == r["bgpdump_elements"]
        theirs = r["bgpdump_per_cpu_s"]
        ratio = f"{r['netvigil_per_cpu_s'] / theirs:.2f}" if same and theirs else "-"
        agree = "yes" if same else "no"
        print(f"{r['file']:<52}{r['netvigil_elements']:>10,}{r['bgpdump_elements']:>10,}"
              f"{agree:>6}{r['netvigil_per_cpu_s']:>12,.0f}{theirs:>12,.0f}{ratio:>7}")  # fmt: skip


def replay_messages(count: int) -> list[str]:
    """`count` RIS Live UPDATEs made from the two real ones, with varied prefixes and times."""
    doc = json.loads(BGPKIT_MESSAGE.read_text())
    meta, elems = doc["meta"], doc["elems"]
    v6 = {
        "type": "ris_message",
        "data": {
            "timestamp": meta["timestamp"], "peer": meta["peer"],
            "peer_asn": str(meta["peerAsn"]), "host": meta["host"], "type": "UPDATE",
            "path": elems[0]["as_path"],
            "community": [c["Custom"] for c in elems[0]["communities"]],
            "announcements": [{"next_hop": elems[0]["next_hop"],
                               "prefixes": [e["prefix"] for e in elems]}],
        },
    }  # fmt: skip
    v4 = json.loads(LIBBGPSTREAM_STREAM.read_text().splitlines()[0])
    out: list[str] = []
    for i in range(count):
        message = copy.deepcopy(v6 if i % 2 else v4)
        data = message["data"]
        data["timestamp"] = 1_636_245_154.8 + i * 0.001
        if i % 2:
            data["announcements"][0]["prefixes"] = [
                f"2a0e:{i % 65536:x}:{k}::/48" for k in range(4)
            ]
        else:
            data["announcements"][0]["prefixes"] = [f"45.{(i >> 8) % 256}.{i % 256}.0/24"]
            data["withdrawals"] = [f"45.{(i >> 8) % 256}.{(i + 1) % 256}.0/24"]
        out.append(orjson.dumps(message).decode())
    return out


def elements_in(messages: list[str]) -> int:
    return sum(len(decode_ris_message(m).items) for m in messages)


def decode_only(messages: list[str], runs: int) -> tuple[int, float]:
    def measure() -> tuple[int, float]:
        start = cpu()
        n = sum(len(decode_ris_message(m).items) for m in messages)
        return n, cpu() - start

    return best(runs, measure)


async def serve(count: int) -> None:
    """The replay server (child process): each connection gets `count` messages, then close."""
    from aiohttp import web

    messages = replay_messages(count)

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive_str(timeout=10)
        for message in messages:
            await ws.send_str(message)
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/v1/ws/", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(port, flush=True)
    await asyncio.sleep(TIME_LIMIT_S)
    await runner.cleanup()


async def client_run(
    url: str, expected: int, networks: list[NetworkConfig], watched: list[NetworkConfig]
) -> dict[str, Any]:
    """Read one replay through RisLiveClient into PrefixVisibility watching `watched`; CPU
    from the first message to the last."""
    visibility = PrefixVisibility(watched, CountingSink(), source="ris_live")
    stop = asyncio.Event()
    got = 0
    first_cpu: float | None = None
    first_wall = 0.0

    def on_item(item: BgpItem) -> None:
        nonlocal got, first_cpu, first_wall
        if first_cpu is None:
            first_cpu, first_wall = cpu(), time.perf_counter()
        visibility.update(item)
        got += 1
        if got >= expected:
            stop.set()

    state = FeedState("bench", "ris_live")
    client = RisLiveClient(url, subscriptions(networks), on_item, state, backoff=Backoff(1, 1))
    task = asyncio.create_task(client.run(stop))
    await asyncio.wait_for(stop.wait(), TIME_LIMIT_S)
    cpu_s, wall_s = cpu() - (first_cpu or 0.0), time.perf_counter() - first_wall
    await task
    return {"elements": got, "cpu_s": cpu_s, "wall_s": wall_s, "per_cpu_s": got / cpu_s}


def ris_live(count: int, runs: int) -> dict[str, dict[str, Any]]:
    messages = replay_messages(count)
    expected = elements_in(messages)
    networks = [NetworkConfig(name="as20473", asn=20473),
                NetworkConfig(name="br", prefixes=[ip_network("45.0.0.0/8")])]  # fmt: skip
    n, cpu_s = decode_only(messages, runs)
    out: dict[str, dict[str, Any]] = {
        "decode": {"elements": n, "cpu_s": cpu_s, "per_cpu_s": n / cpu_s}
    }
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"ws://127.0.0.1:{port}/v1/ws/"
        for name, watched in (("client, nothing watched", []), ("client", networks)):
            results = [
                asyncio.run(client_run(url, expected, networks, watched)) for _ in range(runs)
            ]
            out[name] = min(results, key=lambda r: r["cpu_s"])
    finally:
        server.terminate()
        server.wait(10)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="an MRT dump")
    parser.add_argument("--messages", type=int, default=20_000, help="RIS Live messages")
    parser.add_argument("--networks", type=int, default=20, help="networks watched")
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (best counts)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve))
        return
    if not 1 <= args.messages <= 1_000_000:
        parser.error("--messages must be 1 to 1,000,000")
    networks = networks_in(args.file, args.networks)
    mrt = mrt_paths(args.file, args.repeat, networks)
    bgpdump = shutil.which("bgpdump")
    peer = peer_table([args.file, *PEER_FILES], args.repeat, bgpdump) if bgpdump else []
    live = ris_live(args.messages, args.repeat)
    floor = mrt["parser"]["per_cpu_s"]
    print(f"MRT: {args.file.name}, {mrt['parser']['elements']:,} elements,"
          f" {len(networks)} networks watched; best of {args.repeat}")  # fmt: skip
    print(f"{'path':<22}{'elements/CPU-s':>16}{'CPU s':>9}{'vs parser':>11}")
    for name, r in mrt.items():
        ratio = r["per_cpu_s"] / floor
        print(f"{name:<22}{r['per_cpu_s']:>16,.0f}{r['cpu_s']:>9.3f}{ratio:>11.2f}")
    decode = live["decode"]["per_cpu_s"]
    print(f"\nRIS Live: {args.messages:,} messages, {live['decode']['elements']:,} elements;"
          f" best of {args.repeat}")  # fmt: skip
    print(f"{'path':<33}{'elements/CPU-s':>16}{'CPU s':>9}{'vs decode':>11}{'vs parser':>11}")
    for name, r in live.items():
        print(
            f"ris_live {name:<24}{r['per_cpu_s']:>16,.0f}{r['cpu_s']:>9.3f}"
            f"{r['per_cpu_s'] / decode:>11.2f}{r['per_cpu_s'] / floor:>11.2f}"
        )
    if peer:
        print_peer_table(peer, args.repeat)
    else:
        print("\nbgpdump: not installed, not measured (sudo apt-get install bgpdump)")
    print("\nbgpkit-parser CLI: not measured (cargo cannot reach crates.io here)")
    out = REPO / "bench" / "results" / "bgp_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"file": str(args.file), "messages": args.messages, "mrt": mrt, "ris_live": live,
              "bgpdump": peer,
              "load_average": os.getloadavg(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
              time.gmtime())}  # fmt: skip
    out.write_text(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
