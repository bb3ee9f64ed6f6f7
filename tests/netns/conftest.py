"""Network-namespace helpers: a client and a server namespace joined by a veth pair.

Every namespace gets a unique `nv-` name and is deleted in `finally`. Addresses come from
documentation ranges only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
Without root the tests skip, except under CI (CI=true), where they fail instead.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def require_root() -> None:
    """Skip without root on a workstation; under CI a test that cannot run fails."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("netns tests need root and iproute2 under CI")
        pytest.skip("netns tests need root and iproute2")


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; raise with its stderr when it fails."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{args[:6]} exited {done.returncode}: {done.stderr.strip()} {done.stdout.strip()}"
        )
    return done


@dataclass
class Pair:
    """Two namespaces joined by a veth pair: `client` probes, `server` answers."""

    client: str
    server: str
    client_v4: str = "192.0.2.1"
    server_v4: str = "192.0.2.2"
    client_v6: str = "2001:db8:1::1"
    server_v6: str = "2001:db8:1::2"
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def in_ns(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside namespace `ns`."""
        return sh("ip", "netns", "exec", ns, *args, check=check)

    def add_server_address(self, address: str) -> None:
        """Give the server one more address on its veth."""
        if ":" in address:
            sh("ip", "-n", self.server, "addr", "add", f"{address}/64", "dev", "veth1", "nodad")
        else:
            sh("ip", "-n", self.server, "addr", "add", f"{address}/24", "dev", "veth1")

    def firewall(self, ns: str, *rule: str, v6: bool = False) -> None:
        """Append an iptables (or ip6tables) rule in `ns`."""
        self.in_ns(ns, "ip6tables" if v6 else "iptables", *rule)

    def listen(self, ports: list[int]) -> None:
        """Start TCP listeners on all addresses of the server namespace."""
        code = (
            "import socket,sys,time\n"
            "socks=[]\n"
            "for fam,addr in ((socket.AF_INET,'0.0.0.0'),(socket.AF_INET6,'::')):\n"
            "    for p in map(int, sys.argv[1:]):\n"
            "        s=socket.socket(fam,socket.SOCK_STREAM)\n"
            "        s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            "        if fam==socket.AF_INET6:\n"
            "            s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)\n"
            "        s.bind((addr,p)); s.listen(64); socks.append(s)\n"
            "print('ready',flush=True)\n"
            "time.sleep(120)\n"
        )
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.server, sys.executable, "-c", code, *map(str, ports)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("listener in the server namespace did not start")

    def probe(self, specs: list[dict[str, Any]], ns: str | None = None) -> list[dict[str, Any]]:
        """Measure `specs` concurrently from namespace `ns` (default: the client)."""
        return probe_in(ns or self.client, specs)


PROBE_SCRIPT = """
import asyncio, json, sys
from pydantic import TypeAdapter
from netvigil.probes import ProbeSet, TargetSpec

async def main():
    specs = TypeAdapter(list[TargetSpec]).validate_python(json.loads(sys.argv[1]))
    async with ProbeSet() as probes:
        found = await asyncio.gather(*(probes.measure(s) for s in specs))
    print(json.dumps([
        {"outcome": o.outcome.value, "phase": o.phase.value if o.phase else None,
         "detail": o.detail, "timings": o.timings}
        for o in found
    ]))

asyncio.run(main())
"""


def probe_in(ns: str, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the probes for `specs` in a Python process inside namespace `ns`."""
    done = sh("ip", "netns", "exec", ns, sys.executable, "-c", PROBE_SCRIPT, json.dumps(specs))
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


@pytest.fixture
def pair() -> Iterator[Pair]:
    """A fresh client/server namespace pair, removed afterwards."""
    require_root()
    tag = secrets.token_hex(3)
    p = Pair(client=f"nv-{tag}-c", server=f"nv-{tag}-s")
    created: list[str] = []
    try:
        for ns in (p.client, p.server):
            sh("ip", "netns", "add", ns)
            created.append(ns)
        sh(
            "ip",
            "-n",
            p.client,
            "link",
            "add",
            "veth0",
            "type",
            "veth",
            "peer",
            "name",
            "veth1",
            "netns",
            p.server,
        )
        for ns, dev, v4, v6 in (
            (p.client, "veth0", p.client_v4, p.client_v6),
            (p.server, "veth1", p.server_v4, p.server_v6),
        ):
            sh("ip", "-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
            sh("ip", "-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # Tests send several ICMP errors to one peer within a second: no rate limit.
        p.in_ns(p.server, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
        p.in_ns(p.server, "sysctl", "-qw", "net.ipv6.icmp.ratelimit=0")
        yield p
    finally:
        for proc in p.procs:
            proc.kill()
            proc.wait(timeout=5)
        for ns in created:
            sh("ip", "netns", "del", ns, check=False)
