"""Real `netvigil prober` processes sharing one vantage's targets through a real nats-server.

Thirty TCP targets on a loopback server; three probers share them with no target
probed by two and none left out; one killed with SIGKILL has its targets probed by the
survivors within two probe intervals; a fourth joining takes about a third of them and
nothing else moves; one stopped cleanly is seen to leave at once. Each prober writes
what it probed to its own JSON-lines file.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from cluster_nats import NATSServerProcess

from netvigil.cluster import assign

INTERVAL_S = 2.0
HEARTBEAT_S = 0.3
MEMBER_TTL_S = 1.5
TARGETS = [f"t{i:02d}" for i in range(30)]
VANTAGE = "lab-east"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def write_config(path: Path, port: int) -> Path:
    lines = [
        f'[vantage]\nname = "{VANTAGE}"\n',
        "[scheduler]\njitter = 0\nper_address_rate = 1000\n",
        '[[services]]\nname = "shared"\n',
    ]
    for name in TARGETS:
        lines.append(
            f'[[targets]]\nname = "{name}"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
            f'service = "shared"\ninterval_s = {INTERVAL_S}\ntimeout_s = 1\n'
        )
    path.write_text("\n".join(lines))
    return path


class Prober:
    """One `netvigil prober` subprocess: its member name, output file and log."""

    def __init__(self, name: str, work: Path) -> None:
        self.name = name
        self.out = work / f"{name}.jsonl"
        self.log = work / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, config: Path, nats_url: str) -> None:
        command = [
            sys.executable, "-m", "netvigil", "prober", "--config", str(config),
            "--nats", nats_url, "--member", self.name, "--out", str(self.out),
            "--heartbeat", str(HEARTBEAT_S), "--member-ttl", str(MEMBER_TTL_S),
            "--duration", "200",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"}
            )

    def probers_seen(self) -> int | None:
        """How many probers this one counted at its last re-assignment."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        found = re.findall(r"owns \d+ of \d+ target\(s\) among (\d+) prober", text)
        return int(found[-1]) if found else None

    def probes(self, since: float, until: float) -> list[str]:
        """Targets this prober started probing in [since, until) (wall clock)."""
        if not self.out.exists():
            return []
        out = []
        for line in self.out.read_text().splitlines():
            m = json.loads(line)
            assert m["vantage"] == VANTAGE
            if since <= m["ts"] < until:
                out.append(m["target"])
        return out

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), 30)


async def wait_until_all_see(probers: list[Prober], count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(p.probers_seen() == count for p in probers):
        if time.monotonic() > deadline:
            logs = {p.name: p.log.read_text(errors="replace")[-1500:] for p in probers}
            raise AssertionError(f"probers did not all see {count}: {logs}")
        await asyncio.sleep(0.1)


async def owners_over(probers: list[Prober], intervals: float) -> dict[str, Counter[str]]:
    """Who probed each target over the next `intervals` probe intervals, and how often."""
    since = time.time()
    await asyncio.sleep(intervals * INTERVAL_S)
    until = time.time()
    await asyncio.sleep(0.5)  # let the last lines be written
    owners: dict[str, Counter[str]] = defaultdict(Counter)
    for p in probers:
        for target in p.probes(since, until):
            owners[target][p.name] += 1
    return owners


def assert_shared_exactly(owners: dict[str, Counter[str]], members: set[str], runs: int) -> None:
    """Every target probed by exactly its rendezvous owner, about `runs` times."""
    assert sorted(owners) == TARGETS, "some target was not probed at all"
    expected = assign(TARGETS, members)
    for target, by in owners.items():
        assert list(by) == [expected[target]], f"{target} probed by {dict(by)}"
        assert runs - 1 <= by[expected[target]] <= runs + 1, f"{target}: {dict(by)}"


async def serve_tcp_accepting() -> asyncio.Server:
    async def accept_and_close(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(accept_and_close, "127.0.0.1", 0)


async def test_probers_share_take_over_and_rebalance(
    tmp_path: Path, nats_server: NATSServerProcess
) -> None:
    server = await serve_tcp_accepting()
    port = server.sockets[0].getsockname()[1]
    config = write_config(tmp_path / "netvigil.toml", port)
    probers = {name: Prober(name, tmp_path) for name in ("p1", "p2", "p3", "p4")}
    try:
        first = [probers["p1"], probers["p2"], probers["p3"]]
        for p in first:
            await p.start(config, nats_server.url)
        await wait_until_all_see(first, 3)
        await asyncio.sleep(INTERVAL_S)  # runs scheduled before the last join are done

        steady = await owners_over(first, 3)
        assert_shared_exactly(steady, {"p1", "p2", "p3"}, runs=3)

        orphans = sorted(t for t, by in steady.items() if "p3" in by)
        assert orphans
        killed_at = time.time()
        await probers["p3"].stop(signal.SIGKILL)
        survivors = [probers["p1"], probers["p2"]]
        await asyncio.sleep(2 * INTERVAL_S + 0.5)
        taken_over = defaultdict(list)
        for p in survivors:
            for target in p.probes(killed_at, killed_at + 2 * INTERVAL_S):
                taken_over[target].append(p.name)
        missing = [t for t in orphans if t not in taken_over]
        assert not missing, f"not probed within two intervals of the kill: {missing}"

        await wait_until_all_see(survivors, 2)
        after_kill = await owners_over(survivors, 2)
        assert_shared_exactly(after_kill, {"p1", "p2"}, runs=2)

        await probers["p4"].start(config, nats_server.url)
        grown = [*survivors, probers["p4"]]
        await wait_until_all_see(grown, 3)
        await asyncio.sleep(INTERVAL_S)
        after_join = await owners_over(grown, 2)
        assert_shared_exactly(after_join, {"p1", "p2", "p4"}, runs=2)
        moved = [t for t in TARGETS if list(after_join[t]) != list(after_kill[t])]
        assert all(list(after_join[t]) == ["p4"] for t in moved)
        assert 4 <= len(moved) <= 18, f"{len(moved)} of 30 moved to the new prober"

        assert await probers["p4"].stop() == 0
        await wait_until_all_see(survivors, 2)
        for p in survivors:  # told at once by the deleted key, not by the TTL
            assert f"{VANTAGE}: p4 left" in p.log.read_text()
            log = p.log.read_text()
            assert f"{VANTAGE}: p3 left" not in log  # the killed one could not say goodbye
            assert f"{VANTAGE}: p3 timed out" in log or f"{VANTAGE}: expired p3" in log
        for p in survivors:
            assert await p.stop() == 0, p.log.read_text(errors="replace")[-2000:]
    finally:
        for p in probers.values():
            if p.process is not None and p.process.returncode is None:
                p.process.kill()
                await p.process.wait()
        server.close()
        await server.wait_closed()
