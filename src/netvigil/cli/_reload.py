"""Reloading the config of a running `netvigil run` (SIGHUP, or the admin API).

The file is read and validated first: a bad file changes nothing and says why, once, in
the log (and to the admin API caller). A good one is applied without a restart: targets
added, removed or changed are scheduled, judged and served from then on; measurements
and open incidents are kept. Sections that only a restart can change (where the server
listens, the store, the scheduler's limits, alerts, detection's timing, this vantage)
are named in the log and left as they were. The BGP feeds (`[[bgp]]`) are those of the
start, but the networks they watch follow the reloaded config.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.config import Config, load_config
from netvigil.errors import ConfigError

__all__ = ["ConfigReloader", "ReloadOutcome"]

log = logging.getLogger("netvigil.run")

RESTART_SECTIONS = (
    "vantage", "server", "store", "scheduler", "detect", "metrics", "notify", "bgp",
)  # fmt: skip
"""Sections a reload does not apply: they need a restart."""


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What a reload did: targets added, removed and changed, or why nothing changed."""

    ok: bool
    error: str = ""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (the admin API's answer)."""
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "restart_needed": self.restart_needed,
        }


class ConfigReloader:
    """Reads `path` again on demand and hands a valid config to `apply`."""

    def __init__(self, path: Path, config: Config, apply: Callable[[Config], None]) -> None:
        self.path = path
        self.config = config
        self.apply = apply
        self._lock = asyncio.Lock()

    async def reload(self, by: str) -> ReloadOutcome:
        """Reload on behalf of `by` (for the log); never raises for a bad file."""
        async with self._lock:
            try:
                new = await asyncio.to_thread(load_config, self.path)
            except ConfigError as exc:
                log.error("config reload (%s) refused, nothing changed: %s", by, exc)
                return ReloadOutcome(False, error=str(exc))
            outcome = _compare(self.config, new)
            self.apply(new)
            self.config = new
            log.info(
                "config reloaded (%s): %s added, %s removed, %s changed%s",
                by,
                _names(outcome.added),
                _names(outcome.removed),
                _names(outcome.changed),
                (
                    f"; {', '.join(outcome.restart_needed)} changed too and take effect at "
                    "the next restart"
                    if outcome.restart_needed
                    else ""
                ),
            )
            return outcome


def _compare(old: Config, new: Config) -> ReloadOutcome:
    before = {t.name: t for t in old.targets}
    after = {t.name: t for t in new.targets}
    return ReloadOutcome(
        True,
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
        changed=sorted(n for n in before.keys() & after.keys() if before[n] != after[n]),
        restart_needed=[s for s in RESTART_SECTIONS if getattr(old, s) != getattr(new, s)],
    )


def _names(names: list[str]) -> str:
    if not names:
        return "no target"
    shown = ", ".join(names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"{len(names)} target(s) ({shown}{more})"
