"""Notifiers from config: the builder of each `[[notify]]` section's `kind`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from netvigil.config.model import (
    AppriseNotifyConfig,
    NotifierConfig,
    SMTPNotifyConfig,
    WebhookNotifyConfig,
)
from netvigil.errors import ConfigError
from netvigil.notify.apprise_url import AppriseNotifier
from netvigil.notify.base import Notifier
from netvigil.notify.smtp import SMTPNotifier
from netvigil.notify.webhook import WebhookNotifier

__all__ = ["NOTIFIERS", "NotifierFactory", "build_notifier"]

NotifierFactory = Callable[..., Notifier]

NOTIFIERS: dict[str, NotifierFactory] = {
    "webhook": WebhookNotifier.from_config,
    "smtp": SMTPNotifier.from_config,
    "apprise": AppriseNotifier.from_config,
}
"""Notifier builders by config `kind`: `factory(section, *, name=..., env=...)`."""


def build_notifier(
    section: NotifierConfig | WebhookNotifyConfig | SMTPNotifyConfig | AppriseNotifyConfig,
    *,
    name: str,
    env: Mapping[str, str] | None = None,
) -> Notifier:
    """The notifier a `[[notify]]` section describes. Raises ConfigError."""
    factory = NOTIFIERS[section.kind]
    try:
        return factory(section, name=name, env=os.environ if env is None else env)
    except ValueError as exc:
        raise ConfigError("config", [(f"notify {name}", str(exc))]) from exc
