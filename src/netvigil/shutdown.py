"""How a netvigil process is asked to stop: SIGINT or SIGTERM, or a time limit.

stop = stop_event(duration_s)      # inside the running event loop
await monitor.run(stop)            # returns once the event is set
"""

from __future__ import annotations

import asyncio
import signal

__all__ = ["stop_event"]


def stop_event(duration_s: float | None = None) -> asyncio.Event:
    """An event set on SIGINT or SIGTERM, or `duration_s` seconds from now when given.

    Call it from inside the running loop (it installs the loop's signal handlers).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    return stop
