"""E-mail alerts, received by a real aiosmtpd server on loopback."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from netvigil.config import parse_config
from netvigil.errors import ConfigError, NotifyError
from netvigil.incident import EventKind
from netvigil.notify import AlertDispatcher, SMTPNotifier

from .helpers import Mailbox, bound_socket, make_event


def parse(raw: bytes | str | None) -> EmailMessage:
    assert isinstance(raw, bytes)
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


async def test_mail_has_the_headline_as_subject_and_evidence_in_the_body(
    mailbox: Mailbox,
) -> None:
    smtp = SMTPNotifier(
        "127.0.0.1",
        mailbox.port,
        sender="netvigil@observatory.test",
        recipients=["noc@observatory.test", "press@observatory.test"],
        timeout_s=5,
    )
    await smtp.send(make_event(EventKind.CONFIRMED))
    [envelope] = mailbox.messages
    assert envelope.mail_from == "netvigil@observatory.test"
    assert envelope.rcpt_tos == ["noc@observatory.test", "press@observatory.test"]
    mail = parse(envelope.original_content)
    assert mail["Subject"].strip() == (
        "[netvigil] CONFIRMED: e-albania, kryeministria, parlament down (shutdown)"
    )
    assert mail["X-Netvigil-Incident"] == "inc-1"
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content().replace("\r\n", "\n")
    assert body.startswith(
        "CONFIRMED: e-albania, kryeministria, parlament down from 3 vantages since "
        "2022-07-16 21:04:05 UTC — looks like shutdown (confidence 0.82)"
    )
    assert "- every vantage fails: 3 of 3\n" in body
    assert "- all 3 services on network akshi failed within 4 s\n" in body


async def test_unreachable_server_is_a_notify_error() -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    smtp = SMTPNotifier("127.0.0.1", port, sender="a@b.test", recipients=["c@d.test"])
    with pytest.raises(NotifyError, match=rf"smtp smtp \(127.0.0.1:{port}\): cannot reach"):
        await smtp.send(make_event())


async def test_dispatcher_from_config_mails_a_confirmed_incident(mailbox: Mailbox) -> None:
    config = parse_config(
        f"""
        [[notify]]
        kind = "smtp"
        name = "noc-mail"
        host = "127.0.0.1"
        port = {mailbox.port}
        starttls = false
        sender = "netvigil@observatory.test"
        recipients = ["noc@observatory.test"]
        """
    )
    dispatcher = AlertDispatcher.from_config(config)
    await dispatcher.start()
    dispatcher.submit(make_event(EventKind.CONFIRMED))
    dispatcher.submit(make_event(EventKind.RESOLVED))
    await dispatcher.stop(drain_timeout_s=5)
    subjects = [parse(m.original_content)["Subject"].strip() for m in mailbox.messages]
    assert [s.split(":")[0] for s in subjects] == ["[netvigil] CONFIRMED", "[netvigil] RESOLVED"]
    assert dispatcher.stats()["noc-mail"].sent == 2


def test_password_env_must_be_set_when_the_notifier_is_built() -> None:
    config = parse_config(
        """
        [[notify]]
        kind = "smtp"
        host = "127.0.0.1"
        username = "netvigil"
        password_env = "NV_TEST_SMTP_PASSWORD"
        sender = "netvigil@observatory.test"
        recipients = ["noc@observatory.test"]
        """
    )
    assert config.notify[0].kind == "smtp"
    with pytest.raises(ConfigError, match="'NV_TEST_SMTP_PASSWORD' is not set"):
        AlertDispatcher.from_config(config, env={})
    built = AlertDispatcher.from_config(config, env={"NV_TEST_SMTP_PASSWORD": "pw"})
    [smtp] = built.notifiers
    assert isinstance(smtp, SMTPNotifier)
    assert (smtp.port, smtp.starttls, smtp.tls) == (587, True, False)
