"""Recording what `netvigil run` would receive from the lab's route collector, with times.

    python -m netvigil.lab.feedrecord --config monitor.toml --out feed.jsonl --duration 160

Reads the netvigil config the lab generates (its `[[bgp]]` RIS Live feed and its
networks), connects to the feed, sends the subscriptions `netvigil run` sends
(`netvigil.bgp.ris_messages.subscriptions`) and appends every server message to `--out`,
one JSON object per line, with the time it arrived:

    {"received": 1796582655.912, "message": {"type": "ris_message", "data": {...}}}
    {"received": 1796582650.101, "state": "connected"}
    {"received": 1796582700.480, "state": "down", "error": "the server closed the connection"}

When the connection fails it connects again after `--retry` seconds (each connection
gets the table again, see `netvigil.lab.collector`). `netvigil.lab.feedreplay` reads the
file back and replays it through the network plane beside a run's measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import aiohttp

from netvigil.bgp.ris_messages import subscriptions
from netvigil.config import load_config
from netvigil.shutdown import stop_event

__all__ = ["FeedRecorder", "main"]


class FeedRecorder:
    """Appends a RIS Live feed's messages (and its connection's ups and downs) to a stream."""

    def __init__(
        self,
        url: str,
        subscribe: Sequence[dict[str, Any]],
        stream: IO[str],
        *,
        retry_s: float = 0.5,
    ) -> None:
        self.url = url
        self.subscribe = list(subscribe)
        self.stream = stream
        self.retry_s = retry_s
        self.messages = 0

    def write(self, row: dict[str, Any]) -> None:
        """One line, flushed at once (the file is read while the run goes on)."""
        self.stream.write(json.dumps({"received": time.time(), **row}) + "\n")
        self.stream.flush()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, record and connect again until `stop` is set."""
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                try:
                    await self._connection(session, stop)
                    error = "the server closed the connection"
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    error = str(exc) or type(exc).__name__
                if stop.is_set():
                    return
                self.write({"state": "down", "error": error})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry_s)

    async def _connection(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        async with session.ws_connect(self.url, heartbeat=30.0) as ws:
            for message in self.subscribe:
                await ws.send_str(json.dumps(message))
            self.write({"state": "connected"})
            closer = asyncio.create_task(_close_when(stop, ws))
            try:
                async for frame in ws:
                    if frame.type != aiohttp.WSMsgType.TEXT:
                        break
                    try:
                        message = json.loads(frame.data)
                    except ValueError:
                        continue
                    self.messages += 1
                    self.write({"message": message})
            finally:
                closer.cancel()


async def _close_when(stop: asyncio.Event, ws: aiohttp.ClientWebSocketResponse) -> None:
    await stop.wait()
    await ws.close()


async def record(config_path: Path, out: Path, duration_s: float, retry_s: float) -> int:
    """Record the config's first RIS Live feed into `out` for `duration_s`; the exit status."""
    config = load_config(config_path)
    feed = next((s for s in config.bgp if s.kind == "ris_live"), None)
    if feed is None:
        sys.stderr.write(f"{config_path}: no [[bgp]] feed of kind ris_live\n")
        return 2
    subscribe = subscriptions(config.networks, feed.collectors)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as stream:
        recorder = FeedRecorder(feed.url, subscribe, stream, retry_s=retry_s)
        await recorder.run(stop_event(duration_s))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="netvigil.lab.feedrecord")
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--retry", type=float, default=0.5)
    args = parser.parse_args(argv)
    sys.exit(asyncio.run(record(args.config, args.out, args.duration, args.retry)))


if __name__ == "__main__":
    main()
