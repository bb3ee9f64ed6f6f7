"""Process accounting for the benchmarks: CPU-seconds and memory of one process, from /proc."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

__all__ = ["CPUSample", "cpu_of", "peak_rss_mb", "rss_mb", "self_cpu", "thread_cpu"]

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class CPUSample:
    """User and system CPU-seconds of one process (all its threads) at one moment."""

    user_s: float
    system_s: float

    @property
    def total_s(self) -> float:
        return self.user_s + self.system_s

    def __sub__(self, other: CPUSample) -> CPUSample:
        return CPUSample(self.user_s - other.user_s, self.system_s - other.system_s)


def cpu_of(pid: int) -> CPUSample:
    """CPU used so far by process `pid` (utime + stime of /proc/<pid>/stat, all threads).

    Raises OSError when the process is gone.
    """
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    # The command name (field 2) may hold spaces; fields after it start past the last ")".
    fields = raw[raw.rindex(b")") + 2 :].split()
    return CPUSample(int(fields[11]) / _TICKS, int(fields[12]) / _TICKS)


def thread_cpu(pid: int | str = "self", names: dict[int, str] | None = None) -> dict[str, float]:
    """CPU-seconds used so far by each thread of a process, summed by thread name.

    `names` maps native thread ids to names (Python does not name OS threads);
    threads not in it go by their /proc comm.
    """
    out: dict[str, float] = {}
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            if names and int(tid) in names:
                name = names[int(tid)]
            else:
                with open(f"{task_dir}/{tid}/comm") as f:
                    name = f.read().strip()
            with open(f"{task_dir}/{tid}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        fields = raw[raw.rindex(b")") + 2 :].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / _TICKS
    return out


def self_cpu() -> CPUSample:
    """CPU used so far by this process, all threads (getrusage, microsecond resolution)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return CPUSample(ru.ru_utime, ru.ru_stime)


def _status_kb(pid: int | str, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return float(line.split()[1])
    return 0.0


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process now, in MiB (VmRSS)."""
    return _status_kb(pid, "VmRSS:") / 1024


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of a process, in MiB (VmHWM)."""
    return _status_kb(pid, "VmHWM:") / 1024
