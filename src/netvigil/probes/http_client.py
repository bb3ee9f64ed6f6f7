"""A lean HTTP/1.1 client for one request per connection, built on asyncio Protocols.

It does only what a probe needs: send one request with `Connection: close`, read the
response with llhttp (through httptools' `HttpResponseParser`, the parser uvicorn uses),
and keep at most `max_body` bytes of the body (reading stops there) and at most
`MAX_HEAD_BYTES` of the head. Timings come from `time.perf_counter`. Errors are raised
raw (OSError, ssl.SSLError, HTTPProtocolError) for `netvigil.probes.classify` to name;
every parse error of llhttp becomes an HTTPProtocolError.

Why not aiohttp: a new connection per check costs aiohttp about 0.5 CPU-ms under uvloop,
this client about a quarter of that, and probes run thousands of checks a minute.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache
from time import perf_counter
from typing import Any, cast
from urllib.parse import urlsplit

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from netvigil.probes.classify import HTTPProtocolError

__all__ = ["RequestLine", "Response", "ResponseProtocol", "build_request", "make_request"]

MAX_HEAD_BYTES = 65536
"""The most bytes read before the final response's head is complete (interim 1xx included)."""
USER_AGENT = "netvigil/0.1"

_PROTOCOL_NAME = b"HTTP/"
_VERSIONS = frozenset(("1.0", "1.1"))
_NO_BODY = frozenset((101, 204, 304))


@dataclass(frozen=True, slots=True)
class RequestLine:
    """What one request needs: where to connect, the TLS name and the bytes to send."""

    scheme: str
    host: str
    port: int
    payload: bytes
    head: bool
    url: str


@lru_cache(maxsize=2048)
def build_request(url: str, method: str, headers: tuple[tuple[str, str], ...]) -> RequestLine:
    """The request for `url` (cached: a probe sends the same bytes every time)."""
    return make_request(url, method, headers)


def make_request(url: str, method: str, headers: tuple[tuple[str, str], ...]) -> RequestLine:
    """The request for `url` with `method` and extra `headers` (uncached)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    host_header = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        host_header = f"{host_header}:{port}"
    lines = [f"{method} {path} HTTP/1.1"]
    given = {name.lower() for name, _ in headers}
    if "host" not in given:
        lines.append(f"Host: {host_header}")
    if "user-agent" not in given:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in given:
        lines.append("Accept: */*")
    lines.extend(f"{name}: {value}" for name, value in headers if name.lower() != "connection")
    lines.append("Connection: close")
    payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return RequestLine(scheme, host, port, payload, method == "HEAD", url)


@dataclass(slots=True)
class Response:
    """A parsed response: status, headers (lower-case bytes names), body up to the cap."""

    status: int = 0
    reason: str = ""
    version: str = ""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    first_byte_at: float = 0.0


class ResponseProtocol(asyncio.Protocol):
    """Sends one request on connect and reads the response; `done` resolves at its end.

    `done` gets the Response, or the error that ended the exchange: the transport's own
    (OSError, ssl.SSLError) or an HTTPProtocolError for a reply that is not valid
    HTTP/1.x, a head over `MAX_HEAD_BYTES`, or a clean close before the response was
    complete. The `on_*` methods are llhttp's callbacks (httptools calls them while
    `data_received` feeds it); they record what they see and never raise.
    """

    __slots__ = (
        "_cap",
        "_eof_ends_body",
        "_expected_length",
        "_finished",
        "_head_bytes",
        "_head_only",
        "_lead",
        "_parser",
        "_payload",
        "_reading_head",
        "_reason",
        "_send_on_connect",
        "connected_at",
        "done",
        "response",
        "sent_at",
        "transport",
    )

    def __init__(self, payload: bytes, max_body: int, *, head: bool, send: bool = True) -> None:
        self._payload = payload
        self._send_on_connect = send
        self._head_only = head
        self._cap = max_body
        self._parser = HttpResponseParser(self)
        self._reading_head = True  # until the final (non-1xx) response's head is complete
        self._head_bytes = 0
        self._lead: bytes | None = b""  # the first bytes, until they show "HTTP/"
        self._reason = b""
        self._expected_length = -1  # the body length Content-Length gives, -1 when none
        self._eof_ends_body = False
        self._finished = False
        self.connected_at = 0.0
        self.sent_at = 0.0
        self.response = Response()
        self.done: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connected_at = perf_counter()
        self.transport = cast(asyncio.Transport, transport)
        if self._send_on_connect:
            self.transport.write(self._payload)
            self.sent_at = perf_counter()

    def send(self, transport: asyncio.Transport) -> None:
        """Send the request on `transport` (the TLS one, after a handshake)."""
        self.transport = transport
        transport.write(self._payload)
        self.sent_at = perf_counter()

    def data_received(self, data: bytes) -> None:
        if self._finished:
            return
        if not self.response.first_byte_at:
            self.response.first_byte_at = perf_counter()
        try:
            if self._lead is not None:
                self._check_lead(data)
            if self._reading_head:
                self._feed_head(data)
            else:
                self._parser.feed_data(data)
        except HTTPProtocolError as exc:
            self._fail(exc)
        except (HttpParserError, HttpParserUpgrade) as exc:
            # llhttp also complains about bytes after a complete response (or after a 101
            # head, as an upgrade): those are ignored.
            if not self._finished:
                error = HTTPProtocolError(f"malformed response: {exc}")
                error.__cause__ = exc
                self._fail(error)

    def eof_received(self) -> bool | None:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._finished:
            return
        if exc is None and self._eof_ends_body and not self._reading_head:
            self._finish()
        elif exc is not None:
            self._fail(exc)
        elif not self.response.first_byte_at:
            self._fail(HTTPProtocolError("connection closed before any response byte"))
        else:
            self._fail(HTTPProtocolError("connection closed before the response was complete"))

    # -- llhttp callbacks ----------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        """A piece of the status line's reason phrase."""
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header line of the head (trailers after a chunked body are ignored)."""
        if self._reading_head:
            self.response.headers[name.lower()] = value.strip()

    def on_headers_complete(self) -> None:
        """The end of a head: an interim 1xx is dropped, a final one decides the framing."""
        if self._finished:
            return
        parser = self._parser
        status = parser.get_status_code()
        response = self.response
        if 100 <= status < 200 and status != 101:
            response.headers.clear()  # an interim response: the real one follows
            self._reason = b""
            return
        version = parser.get_http_version()
        if version not in _VERSIONS:
            self._fail(HTTPProtocolError(f"not an HTTP/1.x response: version {version}"))
            return
        self._reading_head = False
        response.status = status
        response.version = version
        response.reason = self._reason.decode("latin-1")
        if self._head_only or status in _NO_BODY or self._cap == 0:
            self._finish()
            return
        headers = response.headers
        encoding = headers.get(b"transfer-encoding")
        length = headers.get(b"content-length")
        if encoding is not None:
            # llhttp reads a body chunked only when "chunked" is the last coding.
            last = encoding.rpartition(b",")[2].strip().lower()
            self._eof_ends_body = last != b"chunked"
        elif length is not None and length.isdigit():
            self._expected_length = int(length)
        else:
            self._eof_ends_body = True

    def on_body(self, data: bytes) -> None:
        """A piece of the body: kept up to the cap, where reading stops."""
        if self._finished:
            return
        body = self.response.body
        room = self._cap - len(body)
        if len(data) < room:
            body += data
            return
        body += data[:room]
        # Only a Content-Length body that ends exactly at the cap is known to be whole.
        self.response.truncated = len(data) > room or len(body) != self._expected_length
        self._finish()

    def on_message_complete(self) -> None:
        """The end of a message (an interim 1xx one is skipped)."""
        if not self._reading_head and not self._finished:
            self._finish()

    # -- helpers ---------------------------------------------------------------------------

    def _check_lead(self, data: bytes) -> None:
        """Refuse a reply whose first bytes are not "HTTP/" (llhttp also takes RTSP/, ICE/)."""
        lead = (cast(bytes, self._lead) + data[:5])[:5]
        if not _PROTOCOL_NAME.startswith(lead):
            raise HTTPProtocolError(f"not an HTTP/1.x status line: {lead!r}")
        self._lead = None if len(lead) == 5 else lead

    def _feed_head(self, data: bytes) -> None:
        """Feed `data` while the head is incomplete, refusing a head over MAX_HEAD_BYTES."""
        room = MAX_HEAD_BYTES - self._head_bytes
        self._head_bytes += len(data)
        if len(data) <= room:
            self._parser.feed_data(data)
            return
        self._parser.feed_data(data[:room])
        if self._reading_head and not self._finished:
            raise HTTPProtocolError(f"response head larger than {MAX_HEAD_BYTES // 1024} KiB")
        if not self._finished:
            self._parser.feed_data(data[room:])

    def _fail(self, exc: BaseException) -> None:
        self._finished = True
        if not self.done.done():
            self.done.set_exception(exc)

    def _finish(self) -> None:
        self._finished = True
        if not self.done.done():
            self.done.set_result(self.response)


def tls_facts(transport: asyncio.BaseTransport) -> dict[str, Any]:
    """The negotiated TLS version and cipher of a transport, when it has TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return {}
    cipher = ssl_object.cipher()
    return {"tls_version": ssl_object.version(), "tls_cipher": cipher[0] if cipher else None}
