"""Times on the command line: ISO-8601 moments or ages like `90s`, `15m`, `2h`, `7d`."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import typer

__all__ = ["format_ts", "parse_moment"]

_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_moment(text: str, *, option: str, now: float | None = None) -> float:
    """`2h` (two hours ago) or `2022-07-16T21:00:00+02:00` → epoch seconds.

    Raises typer.BadParameter naming the option.
    """
    now = time.time() if now is None else now
    match = _AGE.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither an age (90s, 15m, 2h, 7d) nor an ISO-8601 time",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_ts(ts: float) -> str:
    """Epoch seconds → `2022-07-16T19:04:05Z` (UTC, second precision)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
