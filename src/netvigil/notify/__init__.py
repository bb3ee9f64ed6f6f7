"""Alerts: notifiers (webhook, e-mail, apprise) and the dispatcher that feeds them."""

from netvigil.notify.apprise_url import AppriseNotifier
from netvigil.notify.base import Notifier
from netvigil.notify.build import NOTIFIERS, build_notifier
from netvigil.notify.dispatch import AlertDispatcher
from netvigil.notify.message import Message, event_payload, headline, render
from netvigil.notify.policy import AlertPolicy, NotifierStats, Skip
from netvigil.notify.smtp import SMTPNotifier
from netvigil.notify.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    sign,
    verify_signature,
)

__all__ = [
    "NOTIFIERS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AlertDispatcher",
    "AlertPolicy",
    "AppriseNotifier",
    "Message",
    "Notifier",
    "NotifierStats",
    "SMTPNotifier",
    "Skip",
    "WebhookNotifier",
    "build_notifier",
    "event_payload",
    "headline",
    "render",
    "sign",
    "verify_signature",
]
