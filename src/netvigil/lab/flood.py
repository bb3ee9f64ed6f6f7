"""Bounded floods for the lab's DDoS faults: UDP packets at a link, HTTP requests at a service.

Every flood is capped in rate, size and duration (`MAX_*`) and refuses any destination
outside the documentation ranges, so it can only ever hit lab hosts.

    python -m netvigil.lab.flood udp --target 192.0.2.2 --pps 2000 --size 1200 --duration 30
    python -m netvigil.lab.flood http --url https://e-albania.gov.al.lab/ --concurrency 64 \
        --duration 30 --ca-file ca.pem
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp

from netvigil.lab.limits import (
    MAX_CONCURRENCY,
    MAX_DURATION_S,
    MAX_PPS,
    MAX_REQUESTS,
    MAX_SIZE,
)
from netvigil.lab.topology import is_lab_address

__all__ = ["http_flood", "main", "udp_flood"]


def _lab_addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def datagram_sizes(size: int) -> list[int]:
    """The sizes a UDP flood of datagrams up to `size` bytes cycles through (64 to `size`)."""
    size = min(size, MAX_SIZE)
    return [64 + (i * 7919) % max(1, size - 63) for i in range(997)]


def offered_kbit(pps: int, size: int) -> float:
    """The load a UDP flood of `pps` datagrams up to `size` bytes offers, in kbit/s."""
    sizes = datagram_sizes(size)
    return min(pps, MAX_PPS) * (sum(sizes) / len(sizes)) * 8 / 1000


def udp_flood(
    targets: Sequence[str],
    *,
    port: int,
    pps: int,
    size: int,
    duration_s: float,
    pulse_on_s: float = 0.0,
    pulse_off_s: float = 0.0,
) -> int:
    """Send UDP datagrams round-robin to `targets` at `pps` for `duration_s`; returns the count."""
    pps = min(pps, MAX_PPS)
    size = min(size, MAX_SIZE)
    duration_s = min(duration_s, MAX_DURATION_S)
    for target in targets:
        if not is_lab_address(target):
            raise SystemExit(f"refusing to flood {target}: not a lab (documentation) address")
    socks = {
        t: socket.socket(socket.AF_INET6 if ":" in t else socket.AF_INET, socket.SOCK_DGRAM)
        for t in targets
    }
    for s in socks.values():
        s.setblocking(False)
    payload = os.urandom(size)
    # Sizes vary from 64 bytes up to `size`, so the flood also fills the small gaps of
    # a byte-limited queue and small packets (pings, SYNs) are dropped too.
    sizes = datagram_sizes(size)
    tick = max(0.001, 1.0 / max(1, pps))  # smooth: a bursty flood would let probes slip by
    per_tick = max(1, round(pps * tick))
    start = time.monotonic()
    next_tick = start
    sent = 0
    n = 0
    period = pulse_on_s + pulse_off_s
    while (now := time.monotonic()) - start < duration_s:
        if period <= 0 or (now - start) % period < pulse_on_s:
            for _ in range(per_tick):
                target = targets[n % len(targets)]
                n += 1
                try:
                    socks[target].sendto(payload[: sizes[n % 997]], (target, port))
                    sent += 1
                except OSError:
                    pass  # full buffer or unreachable: a flood does not care
        next_tick += tick
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.5:
            next_tick = time.monotonic()  # fell behind: never catch up in a burst
    for s in socks.values():
        s.close()
    return sent


async def http_flood(
    url: str,
    *,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    ca_file: str | None = None,
) -> dict[str, int]:
    """Keep `concurrency` requests to `url` in flight for `duration_s`; returns counts by status."""
    concurrency = min(concurrency, MAX_CONCURRENCY)
    duration_s = min(duration_s, MAX_DURATION_S)
    max_requests = min(max_requests, MAX_REQUESTS)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in _lab_addresses(parts.hostname or "", port):
        if not is_lab_address(address):
            raise SystemExit(f"refusing to flood {url}: {address} is not a lab address")
    ctx = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
    deadline = time.monotonic() + duration_s
    counts: dict[str, int] = {}
    issued = 0
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=ctx if ctx is not None else False)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def worker() -> None:
            nonlocal issued
            while time.monotonic() < deadline and issued < max_requests:
                issued += 1
                try:
                    async with session.get(url) as resp:
                        await resp.read()
                        key = str(resp.status)
                except (aiohttp.ClientError, TimeoutError):
                    key = "error"
                    await asyncio.sleep(0.05)
                counts[key] = counts.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return counts


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="netvigil.lab.flood")
    sub = parser.add_subparsers(dest="mode", required=True)
    udp = sub.add_parser("udp")
    udp.add_argument("--target", action="append", required=True)
    udp.add_argument("--port", type=int, default=9)
    udp.add_argument("--pps", type=int, default=2000)
    udp.add_argument("--size", type=int, default=1200)
    udp.add_argument("--duration", type=float, required=True)
    udp.add_argument("--pulse-on", type=float, default=0.0)
    udp.add_argument("--pulse-off", type=float, default=0.0)
    http = sub.add_parser("http")
    http.add_argument("--url", required=True)
    http.add_argument("--concurrency", type=int, default=64)
    http.add_argument("--duration", type=float, required=True)
    http.add_argument("--max-requests", type=int, default=200_000)
    http.add_argument("--ca-file")
    args = parser.parse_args(argv)
    if args.mode == "udp":
        sent = udp_flood(
            args.target,
            port=args.port,
            pps=args.pps,
            size=args.size,
            duration_s=args.duration,
            pulse_on_s=args.pulse_on,
            pulse_off_s=args.pulse_off,
        )
        sys.stdout.write(f"sent {sent} datagrams\n")
    else:
        counts = asyncio.run(
            http_flood(
                args.url,
                concurrency=args.concurrency,
                duration_s=args.duration,
                max_requests=args.max_requests,
                ca_file=args.ca_file,
            )
        )
        sys.stdout.write(f"responses {counts}\n")


if __name__ == "__main__":
    main()
