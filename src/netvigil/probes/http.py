"""HTTP/HTTPS probe: status, keyword, redirects, body cap and per-phase timings."""

from __future__ import annotations

import asyncio
from functools import cached_property
from time import perf_counter
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, field_validator

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.classify import (
    HTTPProtocolError,
    TooManyRedirects,
    classify_http_status,
    failure,
)
from netvigil.probes.connect import connect, is_ip_literal
from netvigil.probes.context import ProbeContext
from netvigil.probes.http_client import (
    RequestLine,
    Response,
    ResponseProtocol,
    build_request,
    make_request,
    tls_facts,
)

__all__ = ["HTTPProbe", "HTTPSpec"]


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

    @cached_property
    def _request(self) -> RequestLine:
        """The first request of a check, built once per spec (the scheduler and the probe
        read the host and port on every check)."""
        return make_request(self.url, self.method, tuple(self.headers.items()))

    def request(self) -> RequestLine:
        """The first request of a check: host, port and the bytes to send."""
        request = self._request
        if request.url is not self.url:  # a model_copy with a new url keeps the cache
            request = self.__dict__["_request"] = make_request(
                self.url, self.method, tuple(self.headers.items())
            )
        return request

    @property
    def host(self) -> str:
        return self.request().host

    @property
    def port(self) -> int:
        return self.request().port

    @property
    def destination(self) -> str:
        return self.resolve_to or self.request().host


class HTTPProbe:
    """Fetches an HTTP(S) URL and names what went wrong, if anything.

    detail: `status`, `url` (the final one), `redirects`, `body_bytes`, `truncated`,
    `keyword_found` (when a keyword is set), `tls_version`/`tls_cipher` for HTTPS, and
    `error` (plus `icmp` or `verify_code` where known) on failure.
    """

    kind: ClassVar[str] = "http"

    def __init__(self, context: ProbeContext | None = None) -> None:
        self._context = context or ProbeContext()

    async def close(self) -> None:
        """Release nothing: connections are never kept between checks."""

    async def measure(self, spec: HTTPSpec) -> Observation:
        """One fetch of `spec.url`, within `spec.timeout_s`; network failures are returned."""
        start = perf_counter()
        timings: dict[str, float] = {}
        detail: dict[str, Any] = {}
        state = _Progress()
        state.deadline = asyncio.get_running_loop().time() + spec.timeout_s
        try:
            async with asyncio.timeout_at(state.deadline):
                response, redirect_unfollowed = await self._fetch(spec, state, timings, detail)
        except Exception as exc:  # every failure becomes data
            timings["total"] = perf_counter() - start
            return failure(exc, state.phase, timings=timings, detail=detail, address=state.address)
        timings["total"] = perf_counter() - start
        status = response.status
        detail["status"] = status
        detail["body_bytes"] = len(response.body)
        detail["truncated"] = response.truncated
        outcome = classify_http_status(
            status, spec.expect_status, redirect_unfollowed=redirect_unfollowed
        )
        if outcome is Outcome.OK and spec.keyword is not None:
            found_kw = spec.keyword.encode("utf-8") in response.body
            detail["keyword_found"] = found_kw
            if not found_kw:
                outcome = Outcome.HTTP_CONTENT_MISMATCH
        ok = outcome is Outcome.OK
        return Observation(
            ok=ok,
            outcome=outcome,
            phase=None if ok else Phase.RESPONSE,
            timings=timings,
            detail=detail,
            address=state.address,
        )

    async def _fetch(
        self,
        spec: HTTPSpec,
        state: _Progress,
        timings: dict[str, float],
        detail: dict[str, Any],
    ) -> tuple[Response, bool]:
        request = spec.request()
        url = request.url
        pinned = (request.host, request.port) if spec.resolve_to else None
        redirects = 0
        while True:
            override = spec.resolve_to if pinned == (request.host, request.port) else None
            response = await self._exchange(spec, request, override, state, timings, detail)
            status = response.status
            if status not in _REDIRECTS or b"location" not in response.headers:
                return response, False
            if not spec.follow_redirects:
                return response, True
            if redirects >= spec.max_redirects:
                raise TooManyRedirects(f"more than {spec.max_redirects} redirects")
            location = response.headers[b"location"].decode("latin-1")
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise HTTPProtocolError(f"redirect to a non-HTTP URL: {url[:200]}")
            redirects += 1
            detail["redirects"] = redirects
            detail["url"] = url
            request = build_request(url, spec.method, tuple(spec.headers.items()))

    async def _exchange(
        self,
        spec: HTTPSpec,
        request: RequestLine,
        override: str | None,
        state: _Progress,
        timings: dict[str, float],
        detail: dict[str, Any],
    ) -> Response:
        loop = asyncio.get_running_loop()
        host = override or request.host
        state.phase = Phase.RESOLVE
        if is_ip_literal(host):
            address = host
        else:
            t0 = perf_counter()
            addresses = await self._context.resolver.resolve(host)
            _add(timings, "resolve", perf_counter() - t0)
            address = addresses[0]
        state.address = address
        state.phase = Phase.CONNECT
        https = request.scheme == "https"
        protocol = ResponseProtocol(
            request.payload, spec.max_body_bytes, head=request.head, send=not https
        )
        t0 = perf_counter()
        transport, _ = await connect(
            address, request.port, lambda: protocol, deadline=state.deadline
        )
        try:
            _add(timings, "connect", protocol.connected_at - t0)
            if https:
                state.phase = Phase.TLS
                ctx = self._context.tls_context(
                    verify=spec.verify_tls, ca_file=spec.ca_file, alpn=("http/1.1",)
                )
                loop = asyncio.get_running_loop()
                t1 = perf_counter()
                tls_transport = await loop.start_tls(
                    transport,
                    protocol,
                    ctx,
                    server_hostname=request.host,
                    ssl_handshake_timeout=spec.timeout_s,
                )
                _add(timings, "tls", perf_counter() - t1)
                if tls_transport is None:
                    raise HTTPProtocolError("TLS transport closed during the handshake")
                transport = tls_transport
                detail.update(tls_facts(transport))
                protocol.send(transport)
            state.phase = Phase.RESPONSE
            response = await protocol.done
            _add(timings, "ttfb", response.first_byte_at - protocol.sent_at)
            return response
        finally:
            if protocol.done.done() and not protocol.done.exception():
                if protocol.response.truncated:
                    transport.abort()
                else:
                    transport.close()
            else:
                transport.abort()
                # A failed handshake reaches the protocol's connection_lost after we
                # leave: a cancelled `done` takes no exception that nobody would read.
                protocol.done.cancel()


def _add(timings: dict[str, float], key: str, value: float) -> None:
    timings[key] = timings.get(key, 0.0) + value


class _Progress:
    """Where a fetch has got to: its phase and the address it talks to."""

    __slots__ = ("address", "deadline", "phase")

    def __init__(self) -> None:
        self.deadline = 0.0
        self.phase = Phase.RESOLVE
        self.address: str | None = None


_REDIRECTS = frozenset((301, 302, 303, 307, 308))
