"""A detector process for tests, judging a stream of past measurements as it comes.

    python detector_process.py CONFIG.json MEMBER CLOCK_TS

runs `run_detector` on the config (`Config.model_dump(mode="json")`, with the store's
DSN written out in full) and its PostgreSQL store, as detector MEMBER (heartbeat 0.2 s,
members' TTL 1 s, a checkpoint at most every 0.2 s), with a clock standing at CLOCK_TS,
so that the timer never outruns the feed; until SIGTERM (or a kill).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import nats

from netvigil.cluster import DetectorStats, DetectSettings, run_detector
from netvigil.config.model import Config
from netvigil.store.postgres import PostgresStore


async def main(config_path: str, member: str, clock_ts: float) -> None:
    config = Config.model_validate_json(Path(config_path).read_text())
    assert config.store.dsn is not None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    stats = DetectorStats()
    settings = DetectSettings(member=member, heartbeat_s=0.2, ttl_s=1.0, checkpoint_every_s=0.2)
    nc = await nats.connect(config.bus.url)
    try:
        async with await PostgresStore.open(config.store.dsn.get_secret_value()) as store:
            await run_detector(
                config, nc, store, stop, settings, clock=lambda: clock_ts, stats=stats
            )
    finally:
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
