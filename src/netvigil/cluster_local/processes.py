"""Starting the cluster's processes detached, and stopping them by pid without mistakes.

    record = spawn("collector-1", "collector", argv, log_path)   # its own session
    alive(record)                                               # same pid, same start time
    stop_all(records, grace_s=10.0)                             # SIGTERM, then SIGKILL

Each process runs in a session (and process group) of its own, so that it outlives the
`netvigil cluster up` that started it and a Ctrl-C there does not reach it. A record keeps
the process's start time as the kernel counts it (/proc/PID/stat), and a process is only
ever signalled while its pid still names that same process: a pid reused by another
program after the cluster died is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from netvigil.cluster_local.layout import ProcessRecord

__all__ = ["alive", "group_is_ours", "group_members", "spawn", "start_ticks", "stop_all", "tail"]

POLL_S = 0.05


def start_ticks(pid: int) -> int | None:
    """The start time of process `pid` in clock ticks since boot; None when it is gone
    or a zombie (exited, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    if fields[0] == "Z":
        return None
    return int(fields[19])


def alive(record: ProcessRecord) -> bool:
    """Whether the process of `record` still runs (the same process, not a reused pid)."""
    return start_ticks(record.pid) == record.start_ticks


def group_members(pgid: int) -> list[int]:
    """The live processes (not zombies) of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def spawn(
    name: str,
    role: str,
    argv: list[str],
    log_path: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    stop_signal: signal.Signals = signal.SIGTERM,
    popen_options: Mapping[str, Any] | None = None,
) -> ProcessRecord:
    """Start `argv` in a session of its own, its output appended to `log_path`.
    Raises OSError when it cannot be started."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            **(popen_options or {}),
        )
    finally:
        os.close(log_fd)
    ticks = start_ticks(process.pid)
    # The Popen object is dropped: the process is meant to outlive it (and this program;
    # `down` may be another one). Marked done so that its finalizer does not warn of a
    # running child; `stop_all` reaps it when it is still ours.
    process.returncode = 0
    return ProcessRecord(
        name=name,
        role=role,
        pid=process.pid,
        start_ticks=ticks if ticks is not None else -1,
        argv=list(argv),
        log=str(log_path),
        port=port,
        stop_signal=stop_signal.name,
    )


def _reap(pid: int) -> None:
    """Collect `pid`'s exit status if it is our child (else the init process does)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _signal(record: ProcessRecord, sig: signal.Signals) -> None:
    if alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, sig)


def group_is_ours(record: ProcessRecord) -> bool:
    """Whether the process group named by `record`'s pid is still the one it led: its
    leader runs, or is gone and its pid not taken by another process (the kernel gives no
    new process a pid that still names a process group)."""
    return record.start_ticks >= 0 and start_ticks(record.pid) in (None, record.start_ticks)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_all(records: Iterable[ProcessRecord], *, grace_s: float = 10.0) -> list[str]:
    """Stop `records` together: each its stop signal, then, after `grace_s`, SIGKILL to
    whatever is left of their process groups. Returns the names that had to be killed."""
    records = list(records)
    running = [r for r in records if alive(r)]
    for r in running:
        _signal(r, signal.Signals[r.stop_signal])
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        for r in running:
            _reap(r.pid)
        if not any(alive(r) for r in running):
            break
        time.sleep(POLL_S)
    killed = [r.name for r in running if alive(r)]
    for r in records:  # the groups: a leader gone may have left children behind
        if group_is_ours(r) and group_members(r.pid):
            _kill_group(r.pid)
    deadline = time.monotonic() + 5.0
    ours = [r for r in records if group_is_ours(r)]
    while time.monotonic() < deadline and any(group_members(r.pid) for r in ours):
        for r in records:
            _reap(r.pid)
        time.sleep(POLL_S)
    return killed


def tail(path: str | Path, lines: int = 5) -> str:
    """The last `lines` lines of a log file, joined with " | " (empty if unreadable)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
