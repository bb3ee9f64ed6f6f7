"""Fixtures for the alert tests: real loopback receivers (HTTP and SMTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiosmtpd.smtp import SMTP

from .helpers import Mailbox, Receiver, bound_socket, serving_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (POST /hook)."""
    async with serving_receiver("/apprise") as rec:
        yield rec


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    """A real aiosmtpd SMTP server on 127.0.0.1, serving on the test's event loop."""
    box = Mailbox()
    loop = asyncio.get_running_loop()
    sock = bound_socket()
    server = await loop.create_server(lambda: SMTP(box, hostname="netvigil.test"), sock=sock)
    box.port = sock.getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()
