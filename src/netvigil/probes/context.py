"""Resources probes share: the resolver and a cache of TLS contexts.

Building an `ssl.SSLContext` loads the CA store (milliseconds), so contexts are made
once per (verify, ca_file, alpn) and reused for every check.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

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
