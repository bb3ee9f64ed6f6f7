"""`[[notify]]` sections: defaults, and every bad section named by file, place and problem."""

from __future__ import annotations

import pytest

from netvigil.config import parse_config
from netvigil.config.model import (
    NOTIFY_EVENTS,
    AppriseNotifyConfig,
    SMTPNotifyConfig,
    WebhookNotifyConfig,
    notifier_names,
)
from netvigil.errors import ConfigError
from netvigil.incident import EventKind

WEBHOOK = 'kind = "webhook"\nurl = "https://hooks.example/netvigil"\nsecret_env = "HOOK_SECRET"'
SMTP = (
    'kind = "smtp"\nhost = "mail.example"\nsender = "nv@example.org"\n'
    'recipients = ["noc@example.org"]'
)


def test_sections_parse_with_their_defaults() -> None:
    config = parse_config(
        f"""
        [[notify]]
        {WEBHOOK}
        [[notify]]
        {SMTP}
        tls = true
        [[notify]]
        kind = "apprise"
        name = "chat"
        urls = ["json://127.0.0.1:8999/alerts"]
        events = ["opened", "resolved"]
        min_confidence = 0.5
        quiet_period_s = 60
        """
    )
    hook, mail, chat = config.notify
    assert isinstance(hook, WebhookNotifyConfig)
    assert hook.events == ["confirmed", "cause_changed", "resolved", "certificate"]
    assert (hook.min_confidence, hook.quiet_period_s, hook.max_attempts) == (0.0, 300.0, 5)
    assert isinstance(mail, SMTPNotifyConfig)
    assert (mail.effective_port, mail.use_starttls) == (465, False)
    assert isinstance(chat, AppriseNotifyConfig)
    assert chat.events == ["opened", "resolved"]
    assert notifier_names(config.notify) == ["webhook-1", "smtp-2", "chat"]


def test_event_names_are_incident_event_kinds() -> None:
    assert {EventKind(name) for name in NOTIFY_EVENTS} <= set(EventKind)


def test_an_inline_secret_is_not_shown() -> None:
    config = parse_config(
        '[[notify]]\nkind = "webhook"\nurl = "http://127.0.0.1:1/h"\n'
        'secret = "0123456789abcdef-do-not-print"\n'
    )
    assert "do-not-print" not in repr(config)


CASES = [
    ('kind = "pager"', "notify[0]: unknown notifier kind; expected one of webhook, smtp, apprise"),
    ('url = "https://x.example/"', "notify[0]: missing 'kind'; expected one of webhook"),
    (
        'kind = "webhook"\nurl = "https://hooks.example/x"',
        "notify[0]: set exactly one of secret or secret_env (webhooks are signed)",
    ),
    (
        'kind = "webhook"\nurl = "ftp://hooks.example/x"\nsecret_env = "S"',
        "notify[0].url: must be an http:// or https:// URL with a host",
    ),
    (
        'kind = "webhook"\nurl = "https://hooks.example/x"\nsecret = "short"',
        "notify[0].secret: must be at least 16 characters",
    ),
    (
        'kind = "webhook"\nurl = "https://hooks.example/x"\nsecret_env = "not a name"',
        "notify[0].secret_env: must be an environment variable name",
    ),
    (f"{WEBHOOK}\nmax_attempts = 0", "notify[0].max_attempts: Input should be greater than"),
    (f"{WEBHOOK}\nretries = 3", "notify[0].retries: unknown setting"),
    (
        f'{WEBHOOK}\nevents = ["confirmed", "updated"]',
        "notify[0].events[1]: Input should be 'opened', 'confirmed', 'cause_changed',"
        " 'resolved' or",
    ),
    (f"{WEBHOOK}\nevents = []", "notify[0].events: List should have at least 1 item"),
    (f"{WEBHOOK}\nmin_confidence = 1.5", "notify[0].min_confidence: Input should be less than"),
    (f"{WEBHOOK}\nquiet_period_s = -1", "notify[0].quiet_period_s: Input should be greater"),
    (f"{SMTP}\ntls = true\nstarttls = true", "notify[0]: set tls or starttls, not both"),
    (f'{SMTP}\nusername = "nv"', "notify[0]: username and password_env go together"),
    (
        'kind = "smtp"\nhost = "mail.example"\nsender = "nv@example.org"\nrecipients = ["noc"]',
        "notify[0].recipients[0]: not an e-mail address: 'noc'",
    ),
    (
        'kind = "smtp"\nhost = "mail.example"\nsender = "nv@example.org"\nrecipients = []',
        "notify[0].recipients: List should have at least 1 item",
    ),
    (f"{SMTP}\nport = 70000", "notify[0].port: Input should be less than or equal to 65535"),
    (
        'kind = "apprise"\nurls = ["json://127.0.0.1:1/ok", "nosuchscheme://x"]',
        "notify[0].urls[1]: not a URL apprise can send to",
    ),
    ('kind = "apprise"\nurls = []', "notify[0].urls: List should have at least 1 item"),
]


@pytest.mark.parametrize(("section", "message"), CASES, ids=[m for _, m in CASES])
def test_bad_section_names_file_location_and_problem(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f"[[notify]]\n{section}\n", source="alerts.toml")
    assert f"alerts.toml: {message}" in str(info.value)


def test_names_must_be_unique() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            f'[[notify]]\n{WEBHOOK}\nname = "ops"\n[[notify]]\n{SMTP}\nname = "ops"\n',
            source="alerts.toml",
        )
    assert str(info.value) == "alerts.toml: notify: name 'ops' is used twice"


def test_problems_in_several_sections_are_all_reported() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            f'[[notify]]\n{WEBHOOK}\nmax_attempts = 0\n[[notify]]\nkind = "pager"\n',
            source="alerts.toml",
        )
    locations = [loc for loc, _ in info.value.problems]
    assert locations == ["notify[0].max_attempts", "notify[1]"]
