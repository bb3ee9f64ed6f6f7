"""Ad-hoc target URLs for `netvigil check`."""

from __future__ import annotations

import pytest

from netvigil.errors import ConfigError
from netvigil.probes import DNSSpec, HTTPSpec, ICMPSpec, TCPSpec, TLSSpec
from netvigil.target_url import parse_target_url, parse_target_urls


def test_each_scheme_makes_its_spec() -> None:
    http = parse_target_url("https://portal.example/x?y=1")
    assert isinstance(http, HTTPSpec)
    assert http.url == "https://portal.example/x?y=1"
    tcp = parse_target_url("tcp://[::1]:8080")
    assert isinstance(tcp, TCPSpec)
    assert (tcp.host, tcp.port) == ("::1", 8080)
    tls = parse_target_url("tls://portal.example")
    assert isinstance(tls, TLSSpec)
    assert tls.port == 443
    icmp = parse_target_url("icmp://127.0.0.1")
    assert isinstance(icmp, ICMPSpec)
    dns = parse_target_url("dns://127.0.0.1:5353/portal.example?type=aaaa")
    assert isinstance(dns, DNSSpec)
    assert (dns.resolver, dns.port, dns.qname, dns.qtype) == (
        "127.0.0.1",
        5353,
        "portal.example",
        "AAAA",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ftp://x", "unknown scheme 'ftp'"),
        ("tcp://h", "tcp:// needs a port"),
        ("tcp://h:99999", "invalid port"),
        ("dns://192.0.2.53/", "needs a name to query"),
        ("dns://192.0.2.53/x?type=BOGUS", "unsupported record type 'BOGUS'"),
        ("dns://192.0.2.53/x?color=red", "unknown query parameter(s): color"),
        ("https://", "no host"),
    ],
)
def test_bad_target_urls_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_target_url(text)
    assert message in str(info.value)
    assert str(info.value).startswith("argument: ")


def test_file_of_targets_reports_every_bad_line_with_its_number() -> None:
    lines = ["# a comment", "tcp://127.0.0.1:1", "", "ftp://x", "icmp://127.0.0.1", "tcp://h"]
    with pytest.raises(ConfigError) as info:
        parse_target_urls(lines, source="targets.txt")
    locs = [loc for loc, _ in info.value.problems]
    assert locs == ["line 4: ftp://x", "line 6: tcp://h"]
    good = parse_target_urls(lines[:3] + lines[4:5], source="targets.txt")
    assert [s.kind for s in good] == ["tcp", "icmp"]
