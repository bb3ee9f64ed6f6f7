"""HTTP/HTTPS probe: status, keyword, redirects, body cap and per-phase timings."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from netvigil.probes.base import TargetBase

__all__ = ["HTTPSpec"]


class HTTPSpec(TargetBase):
    """An HTTP or HTTPS URL to fetch.

    ok when the final status is in `expect_status` (default: any 2xx or 3xx that is not
    followed) and, if `keyword` is set, the first `max_body_bytes` of the body contain it.
    `resolve_to` pins the address to connect to (like curl --resolve), keeping the URL's
    host for the Host header and TLS server name.
    """

    kind: Literal["http"] = "http"
    url: str
    method: Literal["GET", "HEAD"] = "GET"
    expect_status: list[int] = Field(default_factory=list)
    keyword: str | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(default=5, ge=0, le=30)
    max_body_bytes: int = Field(default=65536, ge=0, le=16 * 1024 * 1024)
    headers: dict[str, str] = Field(default_factory=dict)
    verify_tls: bool = True
    ca_file: str | None = None
    resolve_to: str | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"URL scheme must be http or https, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("URL has no host")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"URL has an invalid port: {exc}") from exc
        return value

    @field_validator("expect_status")
    @classmethod
    def _check_status(cls, value: list[int]) -> list[int]:
        for code in value:
            if not 100 <= code <= 599:
                raise ValueError(f"{code} is not an HTTP status code (100-599)")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def destination(self) -> str:
        return self.resolve_to or self.host
