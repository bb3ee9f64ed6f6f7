"""In namespaces: dropped SYNs, ICMP rejections and missing routes, each named correctly."""

from __future__ import annotations

from typing import Any

import pytest

from netns.conftest import Pair

pytestmark = pytest.mark.netns

QUICK = 1.5

# port -> (iptables REJECT type or DROP, ip6tables REJECT type or DROP)
RULES: dict[int, tuple[str, str]] = {
    82: ("DROP", "DROP"),
    83: ("icmp-host-unreachable", "icmp6-addr-unreachable"),
    84: ("icmp-admin-prohibited", "icmp6-adm-prohibited"),
    85: ("icmp-net-unreachable", "icmp6-no-route"),
    86: ("icmp-host-prohibited", "icmp6-adm-prohibited"),
}


def _reject(pair: Pair, *, v6: bool, match: list[str], how: str) -> None:
    target = ["-j", "DROP"] if how == "DROP" else ["-j", "REJECT", "--reject-with", how]
    pair.firewall(pair.server, "-A", "INPUT", *match, *target, v6=v6)


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_tcp_http_tls_failures(pair: Pair, v6: bool) -> None:
    server = pair.server_v6 if v6 else pair.server_v4
    for port, (rule4, rule6) in RULES.items():
        _reject(pair, v6=v6, match=["-p", "tcp", "--dport", str(port)], how=rule6 if v6 else rule4)
    prohibited = "2001:db8:fe::9" if v6 else "198.51.100.9"
    unrouted = "2001:db8:ff::9" if v6 else "203.0.113.9"
    pair.in_ns(
        pair.client,
        "ip",
        *(["-6"] if v6 else []),
        "route",
        "add",
        "prohibit",
        "2001:db8:fe::/48" if v6 else "198.51.100.0/24",
    )
    pair.listen([80])

    def tcp(host: str, port: int) -> dict[str, Any]:
        return {"kind": "tcp", "name": f"t{port}", "host": host, "port": port, "timeout_s": QUICK}

    cases: list[tuple[dict[str, Any], str, str]] = [
        (tcp(server, 80), "ok", None),
        (tcp(server, 81), "tcp_refused", "connect"),
        (tcp(server, 82), "tcp_timeout", "connect"),
        (tcp(server, 83), "host_unreachable", "connect"),
        (tcp(server, 84), "admin_prohibited", "connect"),
        (tcp(server, 85), "net_unreachable", "connect"),
        (tcp(server, 86), "admin_prohibited", "connect"),
        (tcp(unrouted, 80), "net_unreachable", "connect"),
        (tcp(prohibited, 80), "admin_prohibited", "connect"),
        (
            {
                "kind": "http",
                "name": "h",
                "url": f"http://{_url_host(server)}:84/",
                "timeout_s": QUICK,
            },
            "admin_prohibited",
            "connect",
        ),
        (
            {
                "kind": "http",
                "name": "h2",
                "url": f"http://{_url_host(server)}:82/",
                "timeout_s": QUICK,
            },
            "tcp_timeout",
            "connect",
        ),
        (
            {"kind": "tls", "name": "s", "host": server, "port": 83, "timeout_s": QUICK},
            "host_unreachable",
            "connect",
        ),
    ]
    found = pair.probe([spec for spec, _, _ in cases])
    got = [
        (spec["name"], obs["outcome"], obs["phase"])
        for (spec, _, _), obs in zip(cases, found, strict=True)
    ]
    want = [(spec["name"], outcome, phase) for spec, outcome, phase in cases]
    assert got == want, found
    admin = found[4]["detail"]["icmp"]
    assert (admin["type"], admin["code"]) == ((1, 1) if v6 else (3, 13))
    host = found[3]["detail"]["icmp"]
    assert (host["type"], host["code"]) == ((1, 3) if v6 else (3, 1))


@pytest.mark.parametrize("v6", [False, True], ids=["ipv4", "ipv6"])
def test_icmp_errors(pair: Pair, v6: bool) -> None:
    base = pair.server_v6.rsplit(":", 1)[0] + ":" if v6 else "192.0.2."
    targets = {f"{base}3": RULES[83], f"{base}4": RULES[84], f"{base}5": RULES[82]}
    echo = (
        ["-p", "icmpv6", "--icmpv6-type", "echo-request"]
        if v6
        else ["-p", "icmp", "--icmp-type", "echo-request"]
    )
    for address, (rule4, rule6) in targets.items():
        pair.add_server_address(address)
        _reject(pair, v6=v6, match=["-d", address, *echo], how=rule6 if v6 else rule4)
    server = pair.server_v6 if v6 else pair.server_v4
    hosts = [server, f"{base}3", f"{base}4", f"{base}5"]
    specs = [
        {
            "kind": "icmp",
            "name": f"i{i}",
            "host": h,
            "count": 2,
            "packet_interval_s": 0.05,
            "timeout_s": QUICK,
        }
        for i, h in enumerate(hosts)
    ]
    found = pair.probe(specs)
    assert [o["outcome"] for o in found] == [
        "ok",
        "host_unreachable",
        "admin_prohibited",
        "icmp_timeout",
    ], found
    assert found[0]["detail"]["received"] == 2
    assert found[0]["detail"]["loss"] == 0
    assert found[3]["detail"]["loss"] == 1
    assert found[2]["detail"]["icmp"]["type"] == (1 if v6 else 3)
