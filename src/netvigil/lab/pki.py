"""The lab's certificate authority: a trustme CA; per HTTPS service a valid and an expired cert."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["ServiceCerts", "make_pki"]


@dataclass(frozen=True, slots=True)
class ServiceCerts:
    """Paths of one service's PEM files: chain+key, valid and expired."""

    cert: Path
    key: Path
    expired_cert: Path
    expired_key: Path


def make_pki(directory: Path, names: dict[str, list[str]]) -> tuple[Path, dict[str, ServiceCerts]]:
    """Write `ca.pem` and one certificate pair per service into `directory`.

    `names` maps a service name to the DNS names/addresses its certificate covers.
    Returns the CA file's path and the certificates by service.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="netvigil lab CA")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    now = dt.datetime.now(dt.UTC)
    out: dict[str, ServiceCerts] = {}
    for service, identities in names.items():
        valid = ca.issue_cert(*identities, not_before=now - dt.timedelta(days=1))
        expired = ca.issue_cert(
            *identities,
            not_before=now - dt.timedelta(days=90),
            not_after=now - dt.timedelta(days=2),
        )
        certs = ServiceCerts(
            cert=directory / f"{service}.pem",
            key=directory / f"{service}.key",
            expired_cert=directory / f"{service}-expired.pem",
            expired_key=directory / f"{service}-expired.key",
        )
        valid.private_key_pem.write_to_path(str(certs.key))
        expired.private_key_pem.write_to_path(str(certs.expired_key))
        with certs.cert.open("wb") as fh:
            for blob in valid.cert_chain_pems:
                fh.write(blob.bytes())
        with certs.expired_cert.open("wb") as fh:
            for blob in expired.cert_chain_pems:
                fh.write(blob.bytes())
        out[service] = certs
    return ca_file, out
