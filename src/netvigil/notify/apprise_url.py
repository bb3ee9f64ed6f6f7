"""Alerts through apprise: any service an apprise URL names (chat, push, mail, JSON POST).

apprise is synchronous, so each delivery runs in a worker thread; the wait for it is
bounded by `timeout_s` (apprise's own connect and read timeouts, `cto`/`rto` URL
parameters, bound the thread itself).
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import apprise

from netvigil.config.model import AppriseNotifyConfig
from netvigil.errors import NotifyError
from netvigil.incident import EventKind, IncidentEvent
from netvigil.notify.message import render

__all__ = ["AppriseNotifier"]

_NOTIFY_TYPES: dict[EventKind, apprise.NotifyType] = {
    EventKind.OPENED: apprise.NotifyType.WARNING,
    EventKind.CONFIRMED: apprise.NotifyType.FAILURE,
    EventKind.CAUSE_CHANGED: apprise.NotifyType.WARNING,
    EventKind.UPDATED: apprise.NotifyType.INFO,
    EventKind.RESOLVED: apprise.NotifyType.SUCCESS,
    EventKind.CERTIFICATE: apprise.NotifyType.WARNING,
}


class AppriseNotifier:
    """Sends each event to every apprise URL given; raises NotifyError if any fails."""

    kind = "apprise"

    def __init__(self, urls: Sequence[str], *, name: str = "apprise", timeout_s: float = 30.0):
        """Raises ValueError for a URL apprise cannot send to (the URL is not repeated)."""
        if not urls:
            raise ValueError("at least one apprise URL is needed")
        self.name = name
        self.timeout_s = timeout_s
        self._apprise = apprise.Apprise()
        with warnings.catch_warnings():
            # apprise's e-mail plugin imports the deprecated `imghdr` on first use.
            warnings.simplefilter("ignore", DeprecationWarning)
            for i, url in enumerate(urls):
                if not self._apprise.add(url):
                    raise ValueError(f"apprise URL {i + 1} of {len(urls)} is not usable")
        self.count = len(urls)

    @classmethod
    def from_config(
        cls, section: AppriseNotifyConfig, *, name: str, env: Mapping[str, str]
    ) -> AppriseNotifier:
        """Build from a `[[notify]]` section (`env` is not used)."""
        del env
        return cls(section.urls, name=name, timeout_s=section.timeout_s)

    async def send(self, event: IncidentEvent) -> None:
        """Deliver to every URL. Raises NotifyError naming how many failed and why."""
        message = render(event)
        notify_type = _NOTIFY_TYPES.get(event.kind, apprise.NotifyType.INFO)
        try:
            async with asyncio.timeout(self.timeout_s):
                ok, reasons = await asyncio.to_thread(
                    self._deliver, message.subject, message.text, notify_type
                )
        except TimeoutError as exc:
            raise NotifyError(
                f"apprise {self.name}: no answer within {self.timeout_s:g} s"
            ) from exc
        if not ok:
            why = "; ".join(reasons[-3:]) or "no reason given"
            raise NotifyError(f"apprise {self.name}: delivery failed: {why}")

    def _deliver(
        self, title: str, body: str, notify_type: apprise.NotifyType
    ) -> tuple[bool, list[str]]:
        result: Any = self._apprise.notify(
            body=body,
            title=title,
            notify_type=notify_type,
            body_format=apprise.NotifyFormat.TEXT,
        )
        reasons: list[str] = []
        logs = getattr(result, "logs", None)
        if callable(logs):
            reasons = [
                str(entry.message)
                for entry in logs()
                if str(getattr(entry, "level", "")).upper() in ("WARNING", "ERROR")
            ]
        return bool(result), reasons
