"""Test certificates (trustme): a trusted CA and good, expired, wrong-name and untrusted leaves."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass
class CertKit:
    """A CA file the probes trust, and server TLS contexts for each kind of certificate."""

    ca_file: Path
    good: ssl.SSLContext
    expired: ssl.SSLContext
    wrong_name: ssl.SSLContext
    untrusted: ssl.SSLContext

    def server_context(self, kind: str) -> ssl.SSLContext:
        """The server context for `kind`: good, expired, wrong_name or untrusted."""
        ctx: ssl.SSLContext = getattr(self, kind)
        return ctx


def _server_ctx(leaf: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(ctx)
    return ctx


def make_cert_kit(directory: Path) -> CertKit:
    """Issue every certificate the TLS tests need; the CA goes to `directory`/ca.pem."""
    ca = trustme.CA()
    other_ca = trustme.CA()
    now = dt.datetime.now(dt.UTC)
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return CertKit(
        ca_file=ca_file,
        good=_server_ctx(ca.issue_cert(*LOOPBACK_NAMES)),
        expired=_server_ctx(
            ca.issue_cert(
                *LOOPBACK_NAMES,
                not_before=now - dt.timedelta(days=30),
                not_after=now - dt.timedelta(days=1),
            )
        ),
        wrong_name=_server_ctx(ca.issue_cert("wrong.example")),
        untrusted=_server_ctx(other_ca.issue_cert(*LOOPBACK_NAMES)),
    )
