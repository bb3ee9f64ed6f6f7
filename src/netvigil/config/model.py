"""The configuration model: this vantage, targets and the grouping netvigil reasons with.

Every target belongs to a service (controls excepted); a service belongs to an
organization, a network (where it is hosted) and a country.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from netvigil.config.references import CROSS_CHECKED, ReferenceProblems, cross_check_problems
from netvigil.probes import TargetSpec

__all__ = [
    "NOTIFY_EVENTS",
    "AgentConfig",
    "AppriseNotifyConfig",
    "BgpFeedConfig",
    "BusConfig",
    "Config",
    "DefaultsConfig",
    "DetectConfig",
    "MaintenanceConfig",
    "MetricsConfig",
    "NetworkConfig",
    "NotifierConfig",
    "OrganizationConfig",
    "SMTPNotifyConfig",
    "SchedulerConfig",
    "ServerConfig",
    "ServiceConfig",
    "StoreConfig",
    "VantageConfig",
    "WebhookNotifyConfig",
    "notifier_names",
]

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
COUNTRY = r"^[A-Z]{2}$"
AGENT_HASH = r"^[0-9a-f]{64}$"
LISTEN = r"^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VantageConfig(_Model):
    """Where this netvigil process probes from."""

    name: str = Field(default="local", pattern=NAME, max_length=64)
    country: str | None = Field(default=None, pattern=COUNTRY)
    in_country: bool = True
    """Whether this vantage is inside the watched country (filtering is judged from it)."""


class DefaultsConfig(_Model):
    """`[defaults]`: settings copied into every target that does not set them (the same
    bounds as the targets' own)."""

    interval_s: float | None = Field(default=None, gt=0, le=86400)
    timeout_s: float | None = Field(default=None, gt=0, le=300)
    retry_interval_s: float | None = Field(default=None, ge=0, le=86400)


class NetworkConfig(_Model):
    """A hosting network, by the name its operator knows it by."""

    name: str = Field(pattern=NAME, max_length=64)
    description: str = ""
    asn: int | None = Field(default=None, ge=1, le=4294967295)
    prefixes: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    country: str | None = Field(default=None, pattern=COUNTRY)


class OrganizationConfig(_Model):
    """Who runs a set of services."""

    name: str = Field(pattern=NAME, max_length=64)
    description: str = ""


class ServiceConfig(_Model):
    """A public service (a website, a portal) that one or more targets measure."""

    name: str = Field(pattern=NAME, max_length=64)
    description: str = ""
    organization: str | None = None
    network: str | None = None
    country: str | None = Field(default=None, pattern=COUNTRY)


class StoreConfig(_Model):
    """Where measurements are kept: the embedded SQLite file (`kind = "sqlite"`, the
    default, at `path`) or a PostgreSQL database (`kind = "postgres"`, at `dsn`)."""

    kind: Literal["sqlite", "postgres"] = "sqlite"
    path: str = "netvigil.db"
    """The SQLite file (kind "sqlite")."""
    dsn: SecretStr | None = None
    """The PostgreSQL connection URI, `postgresql://user:password@host:5432/database`
    (kind "postgres", where it is required). A secret: never shown in errors or logs."""
    retention_days: float = Field(default=30.0, gt=0)
    """Raw measurements older than this are pruned; per-minute rollups are kept."""
    close_timeout_s: float = Field(default=5.0, gt=0, le=600)
    """On stop, wait at most this long for queued measurements to be written."""

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> Self:
        if self.kind != "postgres":
            return self
        if self.dsn is None or not self.dsn.get_secret_value().strip():
            raise ValueError('store.dsn is required when store.kind is "postgres"')
        scheme = self.dsn.get_secret_value().partition("://")[0]
        if scheme not in ("postgresql", "postgres"):
            raise ValueError(
                "store.dsn must be a postgresql:// URI"
                " (postgresql://user:password@host:5432/database)"
            )
        return self


class SchedulerConfig(_Model):
    """How hard netvigil may probe."""

    concurrency: int = Field(default=512, ge=1, le=100_000)
    """At most this many probes in flight at once."""
    per_address_rate: float = Field(default=10.0, gt=0)
    """At most this many probes per second to one destination host."""
    jitter: float = Field(default=0.1, ge=0, le=1)
    """Random spread of each interval, as a fraction of it."""


TIMEOUT_MARGIN_S = 1.0
"""Detection waits at least this long past the longest probe timeout
(`Config.detection_lateness_s`)."""

AGENT_SHIP_MARGIN_S = 2.0
"""And this much longer when agents report: an agent ships what it has once a second
(`netvigil agent`), and the request takes its time on a loaded server."""


class DetectConfig(_Model):
    """How the live detector treats measurements as they arrive."""

    lateness_s: float = Field(default=5.0, ge=0, le=3600)
    """How late (by its timestamp) a measurement may arrive and still count; detection
    waits this long before acting, so keep it a few seconds above the agents' shipping
    delay. Later measurements are stored but do not change incidents. Detection uses at
    least the longest probe timeout plus one second (a timed-out result arrives that long
    after its timestamp)."""
    silent_intervals: float = Field(default=3.0, gt=0, le=1000)
    """A vantage without any result for this many probe intervals (and at least
    `silent_min_s`) is silent: its last results stop counting for every reader, and its
    silence is a vantage-problem incident."""
    silent_min_s: float = Field(default=15.0, ge=0, le=86_400)
    """The shortest silence that counts (agents ship their results every few seconds)."""


def _check_listen(listen: str) -> str:
    port = int(listen.rsplit(":", 1)[1])
    if port > 65535:
        raise ValueError(f"port {port} is out of range; a port is 1 to 65535 (0: any free port)")
    return listen


class ServerConfig(_Model):
    """The web server that `netvigil run` starts (ingest API now, dashboard later)."""

    listen: Annotated[str, AfterValidator(_check_listen)] = Field(
        default="127.0.0.1:8080", pattern=LISTEN
    )
    enabled: bool = True
    admin_localhost_only: bool = True
    """Admin API routes (`/api/v1/admin/...`) refuse clients not on loopback with 403."""
    public_status: bool = True
    """Serve the public status page at `/status`."""
    show_vantages_publicly: bool = False
    """Name vantages on the public status page (where a service fails from)."""
    title: str = Field(default="Service status", min_length=1, max_length=200)
    """The public status page's title."""
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    """A request whose line and headers grow past this many bytes is answered 431 and closed."""
    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """A connection that has not sent a whole request head this long after it opened (or
    after its request began) is closed."""
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """A request whose body has not fully arrived this long after its head is cut off."""
    max_connections: int = Field(default=1000, ge=1, le=1_000_000)
    """At most this many web connections at once (fewer if file descriptors are short)."""
    probe_fd_reserve: int | None = Field(default=None, ge=16, le=1_000_000)
    """File descriptors web clients may never take (for probes, store, logs); default
    `scheduler.concurrency + 128`."""
    ingest_rate_per_agent: float = Field(default=5.0, gt=0, le=10_000)
    """Ingest requests per second one agent token may make, sustained; more get 429."""
    ingest_burst: int = Field(default=20, ge=1, le=100_000)
    """Ingest requests one agent may make back to back after a quiet spell."""
    max_clock_skew_s: float = Field(default=30.0, ge=0, le=86_400)
    """Ingest refuses measurements stamped more than this far ahead of the server's clock."""
    language: Literal["en", "sq"] = "en"
    """The public pages' language when neither `?lang=` nor the browser's Accept-Language
    asks for one they speak: "en" (English) or "sq" (Albanian)."""

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class AgentConfig(_Model):
    """A remote vantage allowed to ship measurements, and the hash of its token."""

    name: str = Field(pattern=NAME, max_length=64)
    token_sha256: str = Field(pattern=AGENT_HASH)
    """sha256 hex digest of the agent's bearer token (`netvigil agent token` prints both)."""
    country: str | None = Field(default=None, pattern=COUNTRY)
    in_country: bool = False
    allow_targets: list[str] = Field(default_factory=list, max_length=100_000)
    """Targets this agent may report besides the config's own `[[targets]]`."""
    max_extra_targets: int = Field(default=0, ge=0, le=100_000)
    """How many further targets, named nowhere, this agent may report (first come)."""

    def accepts(self, token: str) -> bool:
        """Whether `token` is this agent's token (constant-time comparison)."""
        import hmac

        digest = hashlib.sha256(token.encode()).hexdigest()
        return hmac.compare_digest(digest, self.token_sha256)


class MaintenanceConfig(_Model):
    """A planned maintenance window: failures of these services in it are labelled and quiet.

    `start` and `end` are ISO-8601 date-times; one without an offset is taken as UTC.
    """

    services: list[str] = Field(min_length=1)
    start: datetime
    end: datetime
    note: str = ""

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if self.end_ts <= self.start_ts:
            raise ValueError("end must be after start")
        return self

    @property
    def start_ts(self) -> float:
        """Start as seconds since the epoch."""
        return _epoch(self.start)

    @property
    def end_ts(self) -> float:
        """End as seconds since the epoch."""
        return _epoch(self.end)

    def covers(self, service: str, ts: float) -> bool:
        """Whether `service` is under this window at `ts`."""
        return service in self.services and self.start_ts <= ts < self.end_ts


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


NOTIFY_EVENTS: tuple[str, ...] = (
    "opened",
    "confirmed",
    "cause_changed",
    "resolved",
    "certificate",
)
"""The events an alert can be sent for (`certificate`: a certificate about to expire)."""

NotifyEvent = Literal["opened", "confirmed", "cause_changed", "resolved", "certificate"]
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("must be an http:// or https:// URL with a host")
    return url


def _check_address(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"not an e-mail address: {address!r}")
    return address


def _check_secret_length(secret: SecretStr) -> SecretStr:
    if len(secret.get_secret_value()) < 16:
        raise ValueError("must be at least 16 characters (use a long random string)")
    return secret


def _default_notify_events() -> list[NotifyEvent]:
    return ["confirmed", "cause_changed", "resolved", "certificate"]


class _NotifyCommon(_Model):
    """What every `[[notify]]` section shares: which events to send, and how often."""

    name: str | None = Field(default=None, pattern=NAME, max_length=64)
    """Name in logs and counters; defaults to '<kind>-<n>', n counting sections from 1."""
    events: list[NotifyEvent] = Field(default_factory=_default_notify_events, min_length=1)
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    """Opened/confirmed/cause-changed alerts wait until the cause confidence reaches this."""
    quiet_period_s: float = Field(default=300.0, ge=0)
    """At most one alert per incident in this span (resolve excepted); later ones wait."""


class WebhookNotifyConfig(_NotifyCommon):
    """A signed JSON POST to a URL (see docs/alerts.md for the signature scheme)."""

    kind: Literal["webhook"]
    url: Annotated[str, AfterValidator(_check_http_url)] = Field(max_length=2048)
    secret: Annotated[SecretStr, AfterValidator(_check_secret_length)] | None = None
    """The shared signing secret (at least 16 characters); or name it with `secret_env`."""
    secret_env: str | None = Field(default=None, pattern=ENV_NAME)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Limit on one delivery attempt."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_s: float = Field(default=1.0, gt=0, le=300)
    """Base delay before the first retry; doubled for each further retry, with jitter."""
    max_total_s: float = Field(default=120.0, gt=0, le=3600)
    """Limit on all attempts of one alert together, retries and waits included."""

    @model_validator(mode="after")
    def _check_secret(self) -> Self:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("set exactly one of secret or secret_env (webhooks are signed)")
        return self


class SMTPNotifyConfig(_NotifyCommon):
    """E-mail through an SMTP server."""

    kind: Literal["smtp"]
    host: str = Field(min_length=1, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    """Defaults to 465 with tls, 587 with starttls, 25 otherwise."""
    tls: bool = False
    """Implicit TLS from the first byte (SMTPS)."""
    starttls: bool | None = None
    """Upgrade a plain connection with STARTTLS; defaults to on unless tls is set."""
    username: str | None = Field(default=None, min_length=1)
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    """Environment variable holding the password for `username`."""
    sender: Annotated[str, AfterValidator(_check_address)]
    recipients: list[Annotated[str, AfterValidator(_check_address)]] = Field(min_length=1)
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        if self.tls and self.starttls:
            raise ValueError("set tls or starttls, not both")
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together")
        return self

    @property
    def use_starttls(self) -> bool:
        """Whether the connection is upgraded with STARTTLS."""
        return (not self.tls) if self.starttls is None else self.starttls

    @property
    def effective_port(self) -> int:
        """The port to connect to."""
        if self.port is not None:
            return self.port
        return 465 if self.tls else 587 if self.use_starttls else 25


def _check_apprise_url(url: str) -> str:
    import warnings

    import apprise

    with warnings.catch_warnings():
        # apprise's e-mail plugin imports the deprecated `imghdr` on first use.
        warnings.simplefilter("ignore", DeprecationWarning)
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise ValueError("not a URL apprise can send to (unknown scheme or missing parts)")
    return url


class AppriseNotifyConfig(_NotifyCommon):
    """Any service apprise reaches, by URL (e.g. `tgram://...`, `json://host/path`)."""

    kind: Literal["apprise"]
    urls: list[Annotated[str, AfterValidator(_check_apprise_url)]] = Field(min_length=1)
    timeout_s: float = Field(default=30.0, gt=0, le=600)


NotifierConfig = Annotated[
    WebhookNotifyConfig | SMTPNotifyConfig | AppriseNotifyConfig, Field(discriminator="kind")
]
"""One `[[notify]]` section, by `kind`."""


def notifier_names(sections: list[NotifierConfig]) -> list[str]:
    """Each section's name: its own, or '<kind>-<n>' (n counts sections from 1)."""
    return [s.name or f"{s.kind}-{i}" for i, s in enumerate(sections, start=1)]


def _unique_notifier_names(sections: list[NotifierConfig]) -> list[NotifierConfig]:
    seen: set[str] = set()
    for name in notifier_names(sections):
        if name in seen:
            raise ValueError(f"name {name!r} is used twice")
        seen.add(name)
    return sections


class CertificatesConfig(_Model):
    """When to warn that a certificate runs out (`[certificates]`)."""

    warn_days: list[Annotated[float, Field(gt=0, le=3650)]] = Field(
        default_factory=lambda: [21.0, 7.0], max_length=10
    )
    """Warn once at each of these numbers of days left, through the alert channels."""


def _check_nats_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("nats", "tls") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("must be a nats:// or tls:// URL with a host")
    return url


def _check_stream_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError("must be 1 to 64 letters, digits, '_' or '-' (a NATS stream name)")
    return name


StreamName = Annotated[str, AfterValidator(_check_stream_name)]


class BusConfig(_Model):
    """`[bus]`: how measurements travel from a vantage to the store.

    `kind = "http"` (the default): agents POST batches to the server's ingest API.
    `kind = "nats"`: agents publish to NATS JetStream at `url` and `netvigil collector`
    writes what the stream holds to the store (docs/scale-out.md, "NATS bus").
    """

    kind: Literal["http", "nats"] = "http"
    url: Annotated[str, AfterValidator(_check_nats_url)] = "nats://127.0.0.1:4222"
    user: str | None = Field(default=None, min_length=1, max_length=128)
    password: SecretStr | None = None
    """The password of `user`; or name an environment variable holding it (`password_env`)."""
    password_env: str | None = Field(default=None, pattern=ENV_NAME)
    nkey_seed_file: str | None = None
    """A file holding this client's nkey seed (needs the `nkeys` package), instead of a user."""
    measurements_stream: StreamName = "NETVIGIL_MEASUREMENTS"
    incidents_stream: StreamName = "NETVIGIL_INCIDENTS"
    dead_letter_stream: StreamName = "NETVIGIL_DEAD_LETTER"
    consumer: StreamName = "netvigil-collector"
    """The collector's durable consumer name (collectors sharing it share the work)."""
    duplicate_window_s: float = Field(default=120.0, gt=0, le=86_400)
    """A re-sent measurement id within this span is dropped by the stream itself."""
    max_age_days: float = Field(default=7.0, gt=0, le=3650)
    """Messages older than this leave the streams, collected or not."""
    max_payload_bytes: int = Field(default=65_536, ge=1024, le=8_388_608)
    """The collector sets aside a message larger than this (reason `oversized`)."""
    ack_wait_s: float = Field(default=30.0, ge=1, le=3600)
    """A message fetched but not acked this long is delivered again."""
    publish_timeout_s: float = Field(default=5.0, gt=0, le=300)
    """How long a publisher waits for the stream's acknowledgement of a batch."""

    @model_validator(mode="after")
    def _check_credentials(self) -> Self:
        if self.password is not None and self.password_env is not None:
            raise ValueError("set password or password_env, not both")
        has_password = self.password is not None or self.password_env is not None
        if (self.user is None) == has_password:
            raise ValueError("user and password (or password_env) go together")
        if self.user is not None and self.nkey_seed_file is not None:
            raise ValueError("set user/password or nkey_seed_file, not both")
        return self


class BgpFeedConfig(_Model):
    """One `[[bgp]]` section: a BGP feed watching the networks' prefixes and AS numbers.

    `kind = "ris_live"` reads RIPE RIS Live's websocket at `url` (as `client`, from the
    `collectors` listed, or all); `kind = "mrt"` imports the MRT files `path` (a glob,
    relative to the config file) matches, and any new ones every `poll_s`. `window_s`:
    how long a collector peer counts as heard from after its last message; `resample_s`:
    how often each watched network's visibility is sampled while nothing changes.
    """

    kind: Literal["ris_live", "mrt"]
    name: str | None = Field(default=None, pattern=NAME, max_length=64)
    url: str = Field(default="wss://ris-live.ripe.net/v1/ws/", max_length=2048)
    client: str = Field(default="netvigil", pattern=NAME, max_length=64)
    collectors: list[Annotated[str, Field(pattern=NAME, max_length=64)]] = Field(
        default_factory=list, max_length=100
    )
    path: str | None = Field(default=None, min_length=1, max_length=4096)
    poll_s: float = Field(default=60.0, gt=0, le=86_400)
    window_s: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    resample_s: float = Field(default=60.0, ge=1, le=600)

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        if self.kind == "mrt" and self.path is None:
            raise ValueError('kind = "mrt" needs a path (a glob of MRT files)')
        if self.kind == "ris_live":
            if self.path is not None:
                raise ValueError('path is for kind = "mrt"; kind = "ris_live" reads url')
            parts = urlsplit(self.url)
            if parts.scheme not in ("ws", "wss") or not parts.hostname:
                raise ValueError("url must be a ws:// or wss:// URL with a host")
        return self

    @property
    def label(self) -> str:
        """The feed's name: its own, else its kind."""
        return self.name or self.kind


class MetricsConfig(_Model):
    """`[metrics]`: the bounds of the per-target series on `/metrics`."""

    max_series: int = Field(default=50_000, ge=1, le=1_000_000)
    """At most this many (target, vantage) label sets; a result for a new pair beyond is
    dropped and counted (`netvigil_probe_series_dropped_total`)."""
    max_age_s: float = Field(default=3600.0, ge=60, le=30 * 86_400)
    """A pair whose newest result is older than this (a removed target, a silent agent) is
    forgotten at the next scrape."""


class Config(_Model):
    """A whole netvigil.toml."""

    vantage: VantageConfig = Field(default_factory=VantageConfig)
    networks: list[NetworkConfig] = Field(default_factory=list)
    organizations: list[OrganizationConfig] = Field(default_factory=list)
    services: list[ServiceConfig] = Field(default_factory=list)
    targets: list[TargetSpec] = Field(default_factory=list)
    store: StoreConfig = Field(default_factory=StoreConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    certificates: CertificatesConfig = Field(default_factory=CertificatesConfig)
    bus: BusConfig = Field(default_factory=BusConfig)
    """How agents' measurements travel (`[bus]`): HTTP ingest or NATS JetStream."""
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    agents: list[AgentConfig] = Field(default_factory=list)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list)
    """Planned maintenance windows (`[[maintenance]]`)."""
    notify: Annotated[list[NotifierConfig], AfterValidator(_unique_notifier_names)] = Field(
        default_factory=list
    )
    """Where alerts go (`[[notify]]`, one section per notifier)."""
    bgp: list[BgpFeedConfig] = Field(default_factory=list, max_length=20)
    """BGP feeds (`[[bgp]]`): RIS Live and MRT files, for the networks' visibility."""

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        sections = {name: getattr(self, name) for name in CROSS_CHECKED}
        sections["vantage"] = self.vantage
        problems = cross_check_problems(sections)
        if problems:
            raise ReferenceProblems(problems)
        return self

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)

    @property
    def detection_lateness_s(self) -> float:
        """How late a measurement may arrive and still count in detection: `[detect]
        lateness_s`, raised to the longest probe timeout plus `TIMEOUT_MARGIN_S` (and
        `AGENT_SHIP_MARGIN_S` when the config names agents).

        A result is stamped when its probe starts and handed on when it ends, so a probe
        that timed out arrives `timeout_s` after its stamp while the same vantage's quicker
        results have moved its watermark on: with a lateness shorter than the timeout every
        timed-out result (the sign of a cut) would be dropped as late. An agent's result
        also waits in its spool until it is shipped, and then for its request.
        """
        longest = max((t.timeout_s for t in self.targets), default=0.0)
        margin = TIMEOUT_MARGIN_S + (AGENT_SHIP_MARGIN_S if self.agents else 0.0)
        return max(self.detect.lateness_s, longest + margin)
