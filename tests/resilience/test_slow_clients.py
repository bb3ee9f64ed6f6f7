"""Thousands of slow-head sockets against a server with few file descriptors: `/health`
keeps answering, the server's own probes keep succeeding, the descriptors they need stay
free, and the slow sockets are cut off at the head timeout."""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import threading
import time
from pathlib import Path

from resilience_kit import LoopbackListener, http_get, start_server, stop_server

NOFILE = 1024
FD_RESERVE = 256
SLOW_SOCKETS = 2000
MAX_OPENED = 6000
ATTACK_S = 5.0
PARTIAL_HEAD = b"GET /api/v1/health HTTP/1.1\r\nHost: nv\r\n"


def hold_slow_heads(port: int, until: float, opened: list[int]) -> None:
    """Keep up to SLOW_SOCKETS connections open, each with half a request head sent."""
    held: collections.deque[socket.socket] = collections.deque()
    count = 0
    try:
        while time.monotonic() < until and count < MAX_OPENED:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                sock.sendall(PARTIAL_HEAD)
            except OSError:
                time.sleep(0.01)
                continue
            held.append(sock)
            count += 1
            if len(held) > SLOW_SOCKETS:
                held.popleft().close()
            if count % 50 == 0:
                time.sleep(0.005)  # leave the shared CPU some air
    finally:
        opened.append(count)
        while held:
            held.popleft().close()


def test_slow_heads_do_not_starve_health_or_probes(
    tmp_path: Path, listener: LoopbackListener
) -> None:
    server = start_server(
        tmp_path,
        listener.port,
        f"max_connections = 100000\nprobe_fd_reserve = {FD_RESERVE}\nheader_timeout_s = 2\n",
        nofile=NOFILE,
    )
    try:
        time.sleep(0.5)
        start = time.time()
        until = time.monotonic() + ATTACK_S
        opened: list[int] = []
        slow = threading.Thread(target=hold_slow_heads, args=(server.port, until, opened))
        slow.start()
        statuses: list[int] = []
        most_fds = 0
        while time.monotonic() < until:
            with contextlib.suppress(FileNotFoundError):
                most_fds = max(most_fds, server.open_fds())
            status, _, _ = http_get(f"{server.url}/api/v1/health")
            statuses.append(status)
            time.sleep(0.05)
        slow.join(30)
        end = time.time()
        time.sleep(0.5)
        _, body, _ = http_get(
            f"{server.url}/api/v1/measurements?target=loopback-tcp&since={start}&until={end}"
        )
        probes = json.loads(body)["items"]
        late, _, _ = http_get(f"{server.url}/api/v1/health")
        log = server.log.read_text()
    finally:
        stop_server(server)

    assert opened and opened[0] > SLOW_SOCKETS  # more than the server could ever hold
    assert statuses and set(statuses) == {200}, collections.Counter(statuses)
    assert late == 200
    # The web side never takes the descriptors kept for probes, store and logs.
    assert most_fds <= NOFILE - FD_RESERVE + 64, most_fds
    assert len(probes) >= ATTACK_S / 0.2 / 2, len(probes)
    outcomes = collections.Counter(p["outcome"] for p in probes)
    assert outcomes == {"ok": len(probes)}, outcomes
    assert "Traceback" not in log


def test_a_slow_head_is_cut_off_at_the_head_timeout(
    tmp_path: Path, listener: LoopbackListener
) -> None:
    server = start_server(tmp_path, listener.port, "header_timeout_s = 1\n")
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(PARTIAL_HEAD)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            took = time.monotonic() - started
    finally:
        stop_server(server)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert 0.9 < took < 3.0
