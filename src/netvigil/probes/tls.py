"""TLS probe: handshake, protocol, certificate issuer, names and days to expiry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netvigil.probes.base import TargetBase

__all__ = ["TLSSpec"]


class TLSSpec(TargetBase):
    """A TLS handshake with `host`:`port`, verifying the certificate for `server_name`."""

    kind: Literal["tls"] = "tls"
    host: str = Field(min_length=1)
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = None
    verify: bool = True
    ca_file: str | None = None

    @property
    def destination(self) -> str:
        return self.host
