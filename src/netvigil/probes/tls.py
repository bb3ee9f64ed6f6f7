"""TLS probe: handshake, protocol, certificate issuer, names and days to expiry."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime
from time import perf_counter
from typing import Any, ClassVar, Literal

from cryptography import x509
from pydantic import Field

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.classify import failure
from netvigil.probes.connect import connect
from netvigil.probes.context import ProbeContext

__all__ = ["TLSProbe", "TLSSpec", "cert_facts"]


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


class _Holder(asyncio.Protocol):
    """Holds a connection open for a handshake; reads nothing."""


def _name_text(name: x509.Name) -> str:
    return name.rfc4514_string()


def cert_facts(der: bytes, *, now: float | None = None) -> dict[str, Any]:
    """Issuer, subject, subject alternative names, not_after and days to expiry of a DER cert."""
    cert = x509.load_der_x509_certificate(der)
    not_after = cert.not_valid_after_utc
    moment = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    try:
        san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(v) for v in san_ext.value.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in san_ext.value.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = []
    return {
        "issuer": _name_text(cert.issuer),
        "subject": _name_text(cert.subject),
        "san": names[:50],
        "not_after": not_after.isoformat(),
        "days_to_expiry": round((not_after - moment).total_seconds() / 86400, 3),
    }


class TLSProbe:
    """Completes a TLS handshake and reports protocol, cipher and the server certificate.

    detail: `tls_version`, `tls_cipher`, `issuer`, `subject`, `san`, `not_after`,
    `days_to_expiry`. When verification fails, the certificate facts are still gathered
    with a second, unverified handshake (best effort, within the same deadline).
    """

    kind: ClassVar[str] = "tls"

    def __init__(self, context: ProbeContext | None = None) -> None:
        self._context = context or ProbeContext()

    async def close(self) -> None:
        """Release nothing: the probe keeps no connections."""

    async def measure(self, spec: TLSSpec) -> Observation:
        """One handshake with `spec.host`:`spec.port`, within `spec.timeout_s`."""
        start = perf_counter()
        timings: dict[str, float] = {}
        detail: dict[str, Any] = {}
        phase = Phase.RESOLVE
        address: str | None = None
        server_name = spec.server_name or spec.host
        deadline = asyncio.get_running_loop().time() + spec.timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                address = await self._context.address_of(spec.host, timings, start)
                phase = Phase.CONNECT
                ctx = self._context.tls_context(verify=spec.verify, ca_file=spec.ca_file)
                try:
                    await self._handshake(
                        address, spec.port, ctx, server_name, deadline, timings, detail
                    )
                    phase = Phase.TLS
                except ssl.SSLCertVerificationError:
                    phase = Phase.TLS
                    raise
                except BaseException:
                    phase = Phase.TLS if "connect" in timings else Phase.CONNECT
                    raise
        except ssl.SSLCertVerificationError as exc:
            await self._facts_unverified(spec.port, address, server_name, deadline, detail)
            timings["total"] = perf_counter() - start
            return failure(exc, phase, timings=timings, detail=detail, address=address)
        except Exception as exc:  # every failure becomes data
            timings["total"] = perf_counter() - start
            return failure(exc, phase, timings=timings, detail=detail, address=address)
        timings["total"] = perf_counter() - start
        return Observation(
            ok=True, outcome=Outcome.OK, timings=timings, detail=detail, address=address
        )

    async def _handshake(
        self,
        address: str,
        port: int,
        ctx: ssl.SSLContext,
        server_name: str,
        deadline: float,
        timings: dict[str, float],
        detail: dict[str, Any],
    ) -> None:
        loop = asyncio.get_running_loop()
        protocol = _Holder()
        t0 = perf_counter()
        transport, _ = await connect(address, port, lambda: protocol, deadline=deadline)
        tls_transport: asyncio.Transport | None = None
        try:
            t1 = perf_counter()
            timings["connect"] = t1 - t0
            tls_transport = await loop.start_tls(
                transport, protocol, ctx, server_hostname=server_name
            )
            timings["tls"] = perf_counter() - t1
            if tls_transport is None:
                raise ConnectionResetError("connection closed during the TLS handshake")
            ssl_object = tls_transport.get_extra_info("ssl_object")
            cipher = ssl_object.cipher()
            detail["tls_version"] = ssl_object.version()
            detail["tls_cipher"] = cipher[0] if cipher else None
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                detail.update(cert_facts(der))
        finally:
            (tls_transport or transport).abort()

    async def _facts_unverified(
        self,
        port: int,
        address: str | None,
        server_name: str,
        deadline: float,
        detail: dict[str, Any],
    ) -> None:
        """Fill certificate facts from an unverified handshake; silent on any failure."""
        if address is None:
            return
        ctx = self._context.tls_context(verify=False)
        scratch: dict[str, Any] = {}
        try:
            async with asyncio.timeout_at(deadline):
                await self._handshake(address, port, ctx, server_name, deadline, {}, scratch)
        except Exception:  # best effort: the verification error is the result
            return
        detail.update({k: v for k, v in scratch.items() if k not in detail})
