"""E-mail alerts over SMTP: a plain-text message with the summary and the evidence.

The standard library's `smtplib` runs in a worker thread, so a slow mail server never
stalls the event loop; every socket operation is bounded by `timeout_s`.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from netvigil.config.model import SMTPNotifyConfig
from netvigil.errors import ConfigError, NotifyError
from netvigil.incident import IncidentEvent
from netvigil.notify.message import render

__all__ = ["SMTPNotifier", "build_email"]


def build_email(event: IncidentEvent, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The alert as an e-mail: subject line, plain-text body, and an incident header."""
    message = render(event)
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["X-Netvigil-Incident"] = event.incident.id
    mail["X-Netvigil-Event"] = event.kind.value
    mail.set_content(message.text)
    return mail


class SMTPNotifier:
    """Sends each event as an e-mail through one SMTP server; raises NotifyError on failure."""

    kind = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: Sequence[str],
        name: str = "smtp",
        tls: bool = False,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if tls and starttls:
            raise ValueError("set tls or starttls, not both")
        if not recipients:
            raise ValueError("at least one recipient is needed")
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.tls = tls
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout_s = timeout_s
        self._ssl_context = ssl_context

    @classmethod
    def from_config(
        cls, section: SMTPNotifyConfig, *, name: str, env: Mapping[str, str]
    ) -> SMTPNotifier:
        """Build from a `[[notify]]` section; the password comes from `env`.

        Raises ConfigError when `password_env` names a variable that is not set.
        """
        password = None
        if section.password_env is not None:
            password = env.get(section.password_env)
            if password is None:
                raise ConfigError(
                    "environment",
                    [
                        (
                            f"notify {name}.password_env",
                            f"environment variable {section.password_env!r} is not set",
                        )
                    ],
                )
        return cls(
            section.host,
            section.effective_port,
            sender=section.sender,
            recipients=section.recipients,
            name=name,
            tls=section.tls,
            starttls=section.use_starttls,
            username=section.username,
            password=password,
            timeout_s=section.timeout_s,
        )

    async def send(self, event: IncidentEvent) -> None:
        """Mail the event to every recipient. Raises NotifyError."""
        mail = build_email(event, sender=self.sender, recipients=self.recipients)
        await asyncio.to_thread(self._deliver, mail)

    def _context(self) -> ssl.SSLContext:
        return self._ssl_context if self._ssl_context is not None else ssl.create_default_context()

    def _deliver(self, mail: EmailMessage) -> None:
        where = f"smtp {self.name} ({self.host}:{self.port})"
        try:
            client: smtplib.SMTP
            if self.tls:
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout_s, context=self._context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with client:
                if self.starttls:
                    client.starttls(context=self._context())
                if self.username is not None:
                    client.login(self.username, self._password or "")
                refused = client.send_message(mail, self.sender, self.recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError(f"{where}: every recipient was refused: {exc.recipients}") from exc
        except smtplib.SMTPException as exc:
            raise NotifyError(f"{where}: {type(exc).__name__}: {exc}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise NotifyError(f"{where}: cannot reach the server: {exc}") from exc
        if refused:
            raise NotifyError(f"{where}: some recipients were refused: {sorted(refused)}")
