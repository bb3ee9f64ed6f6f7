"""Resources probes share: the resolver (and the address a probe talks to), a cache of TLS contexts.

Building an `ssl.SSLContext` loads the CA store (milliseconds), so contexts are made
once per (verify, ca_file, alpn) and reused for every check.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from time import perf_counter

from netvigil.probes.connect import is_ip_literal
from netvigil.probes.resolve import Resolver, SystemResolver

__all__ = ["ProbeContext"]


@dataclass
class ProbeContext:
    """What every probe of one ProbeSet shares."""

    resolver: Resolver = field(default_factory=SystemResolver)
    _tls: dict[tuple[bool, str | None, tuple[str, ...]], ssl.SSLContext] = field(
        default_factory=dict, repr=False
    )

    def tls_context(
        self, *, verify: bool, ca_file: str | None = None, alpn: tuple[str, ...] = ()
    ) -> ssl.SSLContext:
        """A client TLS context; raises OSError/ssl.SSLError when `ca_file` cannot be read."""
        key = (verify, ca_file, alpn)
        ctx = self._tls.get(key)
        if ctx is None:
            if verify:
                ctx = ssl.create_default_context(cafile=ca_file)
            else:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if alpn:
                ctx.set_alpn_protocols(list(alpn))
            self._tls[key] = ctx
        return ctx

    async def address_of(self, host: str, timings: dict[str, float], start: float) -> str:
        """The address to probe for `host`: itself when it is an IP literal, else the first
        address the resolver gives, with the time since `start` (a `perf_counter` reading)
        recorded as `timings["resolve"]`. Raises what the resolver raises."""
        if is_ip_literal(host):
            return host
        addresses = await self.resolver.resolve(host)
        timings["resolve"] = perf_counter() - start
        return addresses[0]
