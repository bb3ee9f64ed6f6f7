"""apprise alerts: a json:// URL delivered to a real loopback HTTP server."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from netvigil.config import parse_config
from netvigil.errors import NotifyError
from netvigil.incident import EventKind
from netvigil.notify import AlertDispatcher, AppriseNotifier

from .helpers import bound_socket, make_event


@pytest.fixture
async def inbox() -> object:
    """A loopback HTTP server recording apprise JSON posts; yields (port, bodies)."""
    bodies: list[dict[str, object]] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(json.loads(await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/alerts", handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    sock = bound_socket()
    await web.SockSite(runner, sock).start()
    try:
        yield sock.getsockname()[1], bodies
    finally:
        await runner.cleanup()


async def test_json_url_receives_title_and_body(inbox: tuple[int, list[dict[str, object]]]) -> None:
    port, bodies = inbox
    notifier = AppriseNotifier([f"json://127.0.0.1:{port}/alerts"], timeout_s=5)
    await notifier.send(make_event(EventKind.CONFIRMED))
    [body] = bodies
    assert body["title"] == (
        "[netvigil] CONFIRMED: e-albania, kryeministria, parlament down (shutdown)"
    )
    text = body["message"]
    assert isinstance(text, str)
    assert text.startswith("CONFIRMED: e-albania, kryeministria, parlament down from 3 vantages")
    assert "- every vantage fails: 3 of 3" in text
    assert body["type"] == "failure"


async def test_resolve_goes_out_as_success(inbox: tuple[int, list[dict[str, object]]]) -> None:
    port, bodies = inbox
    config = parse_config(
        f"""
        [[notify]]
        kind = "apprise"
        urls = ["json://127.0.0.1:{port}/alerts"]
        """
    )
    dispatcher = AlertDispatcher.from_config(config)
    async with dispatcher:
        dispatcher.submit(make_event(EventKind.CONFIRMED))
        dispatcher.submit(make_event(EventKind.RESOLVED))
        assert await dispatcher.wait_idle(5)
    assert [b["type"] for b in bodies] == ["failure", "success"]
    assert dispatcher.stats()["apprise-1"].sent == 2


async def test_failed_delivery_is_a_notify_error() -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    notifier = AppriseNotifier([f"json://127.0.0.1:{port}/alerts"], timeout_s=5)
    with pytest.raises(NotifyError, match="apprise apprise: delivery failed"):
        await notifier.send(make_event())


def test_unusable_url_is_refused() -> None:
    with pytest.raises(ValueError, match="apprise URL 2 of 2 is not usable"):
        AppriseNotifier(["json://127.0.0.1:9/x", "nosuchscheme://x"])
