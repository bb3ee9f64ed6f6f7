"""Clients the BGP lab tests run inside a lab namespace (`ip netns exec NS python nsclient.py`).

    nsclient.py ris URL SECONDS SUBSCRIPTION_JSON   # RIS Live messages, one JSON line each
    nsclient.py block SECONDS SPEC_JSON             # block probe rounds, one JSON line each
    nsclient.py poll URL SECONDS                    # a JSON answer each time it changes

Each line carries `received` (time.time() when it arrived) beside the message, round or
answer (`poll` asks every 50 ms; a failed request is a line with `error`). All stop
after SECONDS.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request
from typing import Any

import aiohttp

from netvigil.probes.block import BlockProbe, BlockSpec


async def ris(url: str, seconds: float, subscription: str) -> None:
    end = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({"type": "ris_subscribe", "data": json.loads(subscription)})
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await ws.receive(timeout=left)
            except TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            row = {"received": time.time(), "message": json.loads(msg.data)}
            sys.stdout.write(json.dumps(row) + "\n")
            sys.stdout.flush()


async def block(seconds: float, spec_json: str) -> None:
    spec = BlockSpec.model_validate_json(spec_json)
    probe = BlockProbe()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        obs = await probe.measure(spec)
        row = {"received": time.time(), "ok": obs.ok, "outcome": obs.outcome.value, **obs.detail}
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()
        await asyncio.sleep(spec.interval_s)


def poll(url: str, seconds: float) -> None:
    end = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2.0) as answer:
                seen: Any = {"body": json.loads(answer.read())}
        except (OSError, ValueError) as exc:  # not serving yet, or a bad answer
            seen = {"error": type(exc).__name__}
        if seen != last:
            sys.stdout.write(json.dumps({"received": time.time(), **seen}) + "\n")
            sys.stdout.flush()
            last = seen
        time.sleep(0.05)


def main() -> None:
    if sys.argv[1] == "ris":
        asyncio.run(ris(sys.argv[2], float(sys.argv[3]), sys.argv[4]))
    elif sys.argv[1] == "poll":
        poll(sys.argv[2], float(sys.argv[3]))
    else:
        asyncio.run(block(float(sys.argv[2]), sys.argv[3]))


if __name__ == "__main__":
    main()
