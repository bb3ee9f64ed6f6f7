"""HTTP probe behaviour beyond the outcome table: body cap, redirects, pinning, timings."""

from __future__ import annotations

import time

from netvigil.outcome import Outcome, Phase
from netvigil.probes import HTTPProbe, HTTPSpec
from servers.certs import CertKit
from servers.http import serve_http
from servers.tcp import serve_tcp

BIG = 4 * 1024 * 1024


async def test_body_cap_content_length(http_server: str) -> None:
    spec = HTTPSpec(name="t", url=f"{http_server}/big/{BIG}", max_body_bytes=1000, keyword="x")
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.OK
    assert obs.detail["body_bytes"] == 1000
    assert obs.detail["truncated"] is True


async def test_body_cap_chunked(http_server: str) -> None:
    spec = HTTPSpec(name="t", url=f"{http_server}/chunked/{BIG}", max_body_bytes=3000)
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.OK
    assert obs.detail["body_bytes"] == 3000
    assert obs.detail["truncated"] is True


async def test_chunked_body_read_whole(http_server: str) -> None:
    spec = HTTPSpec(name="t", url=f"{http_server}/chunked/5000", keyword="yyy")
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.OK
    assert obs.detail["body_bytes"] == 5000
    assert obs.detail["truncated"] is False


async def test_body_beyond_cap_not_searched(http_server: str) -> None:
    # the keyword is only in the body, which is cut to 0 bytes
    spec = HTTPSpec(name="t", url=f"{http_server}/ok", max_body_bytes=0, keyword="hello")
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.HTTP_CONTENT_MISMATCH
    assert obs.detail["keyword_found"] is False


async def test_redirects_followed(http_server: str) -> None:
    spec = HTTPSpec(name="t", url=f"{http_server}/redirect/3", keyword="netvigil")
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.OK
    assert obs.detail["status"] == 200
    assert obs.detail["redirects"] == 4
    assert obs.detail["url"].endswith("/ok")


async def test_redirect_not_followed(http_server: str) -> None:
    spec = HTTPSpec(name="t", url=f"{http_server}/redirect/3", follow_redirects=False)
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.OK
    assert obs.detail["status"] == 302
    assert "redirects" not in obs.detail


async def test_redirect_not_followed_but_200_expected(http_server: str) -> None:
    spec = HTTPSpec(
        name="t", url=f"{http_server}/redirect/0", follow_redirects=False, expect_status=[200]
    )
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.HTTP_CONTENT_MISMATCH


async def test_too_many_redirects(http_server: str) -> None:
    spec = HTTPSpec(name="t", url=f"{http_server}/redirect/9", max_redirects=2)
    obs = await HTTPProbe().measure(spec)
    assert (obs.outcome, obs.phase) == (Outcome.HTTP_PROTOCOL_ERROR, Phase.RESPONSE)
    assert "redirects" in obs.detail["error"]


async def test_resolve_to_keeps_host_header() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    async with serve_tcp("raw", payload=reply) as srv:
        spec = HTTPSpec(
            name="t",
            url=f"http://www.example.invalid:{srv.port}/path?q=1",
            resolve_to="127.0.0.1",
        )
        obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.OK, obs
    assert obs.address == "127.0.0.1"
    assert "resolve" not in obs.timings
    request = srv.requests[0]
    assert request.startswith(b"GET /path?q=1 HTTP/1.1\r\n")
    assert f"Host: www.example.invalid:{srv.port}\r\n".encode() in request


async def test_timings_and_tls_detail(https_server: str, cert_kit: CertKit) -> None:
    spec = HTTPSpec(name="t", url=f"{https_server}/ok", ca_file=str(cert_kit.ca_file))
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.OK
    for key in ("connect", "tls", "ttfb", "total"):
        assert obs.timings[key] > 0, key
    assert obs.timings["total"] >= obs.timings["connect"] + obs.timings["tls"]
    assert obs.detail["tls_version"].startswith("TLS")


async def test_head_request(http_server: str) -> None:
    obs = await HTTPProbe().measure(HTTPSpec(name="t", url=f"{http_server}/ok", method="HEAD"))
    assert obs.outcome is Outcome.OK
    assert obs.detail["body_bytes"] == 0


async def test_verify_off_accepts_expired(cert_kit: CertKit) -> None:
    async with serve_http("127.0.0.1", cert_kit.expired) as base:
        obs = await HTTPProbe().measure(HTTPSpec(name="t", url=f"{base}/ok", verify_tls=False))
    assert obs.outcome is Outcome.OK


async def test_timeout_is_honoured(http_server: str) -> None:
    spec = HTTPSpec(name="t", url=f"{http_server}/slow/10", timeout_s=0.3)
    start = time.monotonic()
    obs = await HTTPProbe().measure(spec)
    assert obs.outcome is Outcome.HTTP_TIMEOUT
    assert time.monotonic() - start < 0.8
