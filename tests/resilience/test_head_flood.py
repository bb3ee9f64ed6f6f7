"""Clients streaming a 200 MB request head are cut off at the head limit, while `/health`
stays fast and the server's memory stays where it was."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from resilience_kit import LoopbackListener, http_get, start_server, stop_server

HEAD_STREAM_BYTES = 200 * 1024 * 1024
ATTACKERS = 4
ATTACK_S = 3.0
MAX_CONNECTIONS_PER_ATTACKER = 500
CHUNK = b"a" * 65536


def stream_head(port: int, sent: list[int]) -> None:
    """One connection that tries to send a 200 MB header; appends how much got through."""
    total = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: nv\r\nX-Flood: ")
            while total < HEAD_STREAM_BYTES:
                sock.sendall(CHUNK)
                total += len(CHUNK)
        except OSError:  # the server cut us off
            pass
    sent.append(total)


def attacker(port: int, until: float, sent: list[int]) -> None:
    for _ in range(MAX_CONNECTIONS_PER_ATTACKER):
        if time.monotonic() > until:
            return
        stream_head(port, sent)


def test_head_flood_is_cut_off_while_health_stays_fast(
    tmp_path: Path, listener: LoopbackListener
) -> None:
    server = start_server(tmp_path, listener.port)
    try:
        rss_before = server.status("VmRSS")
        until = time.monotonic() + ATTACK_S
        sent: list[int] = []
        threads = [
            threading.Thread(target=attacker, args=(server.port, until, sent))
            for _ in range(ATTACKERS)
        ]
        for t in threads:
            t.start()
        latencies: list[float] = []
        statuses: list[int] = []
        while time.monotonic() < until:
            status, _, took = http_get(f"{server.url}/api/v1/health")
            statuses.append(status)
            latencies.append(took)
            time.sleep(0.02)
        for t in threads:
            t.join(30)
        peak_rss = server.status("VmHWM")
        log = server.log.read_text()
    finally:
        stop_server(server)

    assert set(statuses) == {200}
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert len(latencies) >= 50
    assert p99 < 0.2, f"p99 {p99 * 1000:.0f} ms over {len(latencies)} requests"
    assert len(sent) >= ATTACKERS  # every attacker got at least one connection cut off
    assert all(n < HEAD_STREAM_BYTES for n in sent)
    # Cut at 16 KiB; what got through is that plus what the kernel buffers held.
    assert max(sent) < 16 * 1024 * 1024, max(sent)
    assert peak_rss - rss_before < 64 * 1024, f"RSS {rss_before} kB -> peak {peak_rss} kB"
    assert "Traceback" not in log
