"""Name resolution for probes: a small seam with the system resolver as default.

A Resolver returns the addresses of a name, or raises the resolver's own error
(`socket.gaierror`, a dnspython exception), which `netvigil.probes.classify` maps to a
`dns_*` outcome.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.resolver

__all__ = ["DNSResolver", "Resolver", "SystemResolver"]


class Resolver(Protocol):
    """Turns a host name into addresses (IPv4 and/or IPv6 text form), best first."""

    async def resolve(self, host: str) -> list[str]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo: /etc/hosts, then DNS)."""

    async def resolve(self, host: str) -> list[str]:
        """Addresses of `host`; raises socket.gaierror when it has none."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        seen: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in seen:
                seen.append(address)
        return seen


class DNSResolver:
    """Queries given name servers directly with dnspython (A, then AAAA if A has none).

    Unlike the system resolver it keeps the DNS rcode: NXDOMAIN, SERVFAIL and REFUSED
    are told apart.
    """

    def __init__(self, nameservers: list[str], *, port: int = 53, timeout_s: float = 5.0) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.nameservers = list(nameservers)
        self._resolver.port = port
        self._resolver.lifetime = timeout_s
        self._resolver.retry_servfail = False

    async def resolve(self, host: str) -> list[str]:
        """Addresses of `host`; raises a dnspython error when it has none."""
        try:
            answer = await self._resolver.resolve(host, "A")
        except dns.resolver.NoAnswer:
            answer = await self._resolver.resolve(host, "AAAA")
        return [rdata.to_text() for rdata in answer]
