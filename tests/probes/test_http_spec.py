"""HTTPSpec: host, port and the first request are worked out once per spec."""

from __future__ import annotations

import pytest

from netvigil.probes import HTTPSpec


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://a.example/", "a.example", 80),
        ("https://a.example/x?y=1", "a.example", 443),
        ("http://127.0.0.1:8080/", "127.0.0.1", 8080),
        ("https://[::1]:8443/", "::1", 8443),
        ("http://A.Example/", "a.example", 80),
    ],
)
def test_host_port_and_destination(url: str, host: str, port: int) -> None:
    spec = HTTPSpec(name="t", url=url)
    assert (spec.host, spec.port, spec.destination) == (host, port, host)
    pinned = HTTPSpec(name="t", url=url, resolve_to="192.0.2.7")
    assert (pinned.host, pinned.destination) == (host, "192.0.2.7")


def test_request_is_built_once_and_kept() -> None:
    spec = HTTPSpec(name="t", url="http://a.example:81/p?q", headers={"X-A": "b"}, method="HEAD")
    request = spec.request()
    assert spec.request() is request
    assert request.payload.startswith(b"HEAD /p?q HTTP/1.1\r\nHost: a.example:81\r\n")
    assert b"X-A: b\r\n" in request.payload
    assert request.head


def test_cache_does_not_change_equality_or_dumps() -> None:
    a = HTTPSpec(name="t", url="http://a.example/")
    b = HTTPSpec(name="t", url="http://a.example/")
    _ = a.host
    assert a == b
    assert a.model_dump() == b.model_dump()


def test_a_copy_with_another_url_does_not_keep_the_old_host() -> None:
    spec = HTTPSpec(name="t", url="http://a.example/")
    assert spec.host == "a.example"
    other = spec.model_copy(update={"url": "https://b.example:444/"})
    assert (other.host, other.port) == ("b.example", 444)
    assert spec.host == "a.example"
