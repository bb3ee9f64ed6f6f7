"""Exceptions: each means that work could not be done, and says where.

A failed probe is never an exception: it is a Measurement with a failure Outcome.

    NetvigilError
    ├── ConfigError      a config file, CLI target or setting is invalid (file, location, message)
    ├── IngestError      an agent batch was refused whole; nothing was stored
    ├── StoreError       the store could not read or write
    ├── NotifyError      a notifier could not deliver an alert
    └── LabError         the lab network could not be built, changed or torn down
"""

from __future__ import annotations

__all__ = ["ConfigError", "IngestError", "LabError", "NetvigilError", "NotifyError", "StoreError"]


class NetvigilError(Exception):
    """Base of every netvigil exception."""


class ConfigError(NetvigilError):
    """A configuration is invalid. `problems` holds one (location, message) pair per error.

    The message has one line per problem, the first `SHOWN` of them, and then how many
    more there are (a file with a thousand targets missing one setting says so in a
    screenful, not a thousand lines); `problems` keeps them all.
    """

    SHOWN = 20

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [
            f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}"
            for loc, msg in problems[: self.SHOWN]
        ]
        if len(problems) > self.SHOWN:
            lines.append(f"{source}: ... and {len(problems) - self.SHOWN} more problems")
        super().__init__("\n".join(lines))


class IngestError(NetvigilError):
    """A batch of measurements from an agent was refused; nothing of it was stored.

    `status` is the HTTP status the API answers with; `errors` holds one line per
    problem, each naming where it is (`measurements[3].outcome: ...`).
    """

    def __init__(self, message: str, *, status: int = 400, errors: list[str] | None = None) -> None:
        self.status = status
        self.errors: list[str] = list(errors) if errors else []
        super().__init__(message)


class StoreError(NetvigilError):
    """The store could not complete a read or write."""


class NotifyError(NetvigilError):
    """A notifier could not deliver an alert."""


class LabError(NetvigilError):
    """The lab network could not be built, changed or torn down."""
