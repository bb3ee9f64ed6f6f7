"""`netvigil.notify` exports exactly its intended surface."""

from __future__ import annotations

import netvigil.notify


def test_exported_names() -> None:
    assert set(netvigil.notify.__all__) == {
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
    }
    for name in netvigil.notify.__all__:
        assert getattr(netvigil.notify, name) is not None
    assert set(netvigil.notify.NOTIFIERS) == {"webhook", "smtp", "apprise"}
