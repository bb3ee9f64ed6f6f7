"""The public status page: plain words, no script, nothing internal, cacheable, light and dark."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apidata import NOW, fill, make_config

from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.state import LiveState


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "status.db")
    await fill(s)
    yield s
    await s.close()


async def client_for(store: SQLiteStore, **server: Any) -> httpx.AsyncClient:
    app = create_app(store, make_config(**server), now=lambda: NOW)
    await app.state.live.sync(store)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://nv.test")


async def test_page_says_in_plain_words_what_works(store: SQLiteStore) -> None:
    async with await client_for(store, title="Albania public services") as client:
        resp = await client.get("/status")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    html = resp.text
    assert "<title>Albania public services</title>" in html
    assert 'e-Albania portal</span> <span class="state">Down since 2023-11-14 22:08 UTC' in html
    assert 'Tax office</span> <span class="state">Working' in html
    assert 'parliament</span> <span class="state">Partly down since 2023-11-14 22:11 UTC' in html
    assert "No data yet" in html
    assert "1 of 4 services is down. 1 more has problems." in html
    assert (
        "<li>Since 2023-11-14 22:08 UTC, e-Albania portal and parliament are unreachable; "
        "it looks like the network hosting them was cut off.</li>" in html
    )


async def test_page_has_no_script_and_nothing_internal(store: SQLiteStore) -> None:
    async with await client_for(store) as client:
        html = (await client.get("/status")).text
    assert "<script" not in html.lower()
    assert not re.search(r"\son\w+\s*=", html, re.IGNORECASE), "an event handler attribute"
    assert not re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", html), "an IP address leaked"
    for internal in ("portal-tcp", "tcp_timeout", "tirana", "frankfurt", "control", "inc-1"):
        assert internal not in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


async def test_vantages_are_named_only_when_configured(store: SQLiteStore) -> None:
    async with await client_for(store, show_vantages_publicly=True) as client:
        html = (await client.get("/status")).text
    assert "Failing from tirana" in html
    assert "unreachable from tirana and frankfurt" in html


async def test_etag_and_304(store: SQLiteStore) -> None:
    async with await client_for(store) as client:
        first = await client.get("/status")
        assert first.headers["cache-control"] == "public, max-age=15"
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert first.headers["last-modified"].endswith(" GMT")
        again = await client.get("/status", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        other = await client.get("/status", headers={"If-None-Match": '"else"'})
        assert other.status_code == 200
        since = await client.get(
            "/status", headers={"If-Modified-Since": first.headers["last-modified"]}
        )
        assert since.status_code == 304
        head = await client.head("/status")
        assert head.status_code == 200
        assert head.content == b""
        assert int(head.headers["content-length"]) == len(first.content)


async def test_rendered_once_while_nothing_changes(store: SQLiteStore) -> None:
    clock = [NOW]
    config = make_config()
    state = LiveState(config, now=lambda: clock[0])
    await state.sync(store)
    app = create_app(store, config, state=state, now=lambda: clock[0], status_cache_s=1.0)
    page = app.state.status_page
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as client:
        bodies = {(await client.get("/status")).text for _ in range(20)}
        clock[0] += 5
        bodies.add((await client.get("/status")).text)
        assert page.renders == 1
        assert len(bodies) == 1
        from apidata import measurement

        for ts in (clock[0] - 0.5, clock[0]):  # two answers in a row: recovered
            state.submit(measurement("portal-tcp", "tirana", ts, ok=True))
            state.submit(measurement("portal-tcp", "frankfurt", ts, ok=True))
        changed = (await client.get("/status")).text  # within cache_s of the last check
        clock[0] += 1.5
        changed = (await client.get("/status")).text
    assert page.renders == 2
    assert 'e-Albania portal</span> <span class="state">Working' in changed
    assert "are unreachable" in changed  # parliament still fails from one vantage


async def test_an_incident_whose_services_answer_again_is_said_so(store: SQLiteStore) -> None:
    from apidata import measurement

    clock = [NOW]
    config = make_config()
    state = LiveState(config, now=lambda: clock[0])
    await state.sync(store)
    app = create_app(store, config, state=state, now=lambda: clock[0], status_cache_s=0.0)
    for ts in (NOW + 1, NOW + 2):  # two answers in a row from every vantage: recovered
        for target in ("portal-tcp", "parliament-tcp"):
            for vantage in ("tirana", "frankfurt"):
                state.submit(measurement(target, vantage, ts, ok=True))
    clock[0] = NOW + 3
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as client:
        html = (await client.get("/status")).text
    assert "All services are working." in html
    assert "are unreachable" not in html  # the incident is not said to be going on
    assert re.search(r"After failing since .*, e-Albania portal and parliament answer again", html)


async def test_stylesheet_has_dark_mode_and_is_cached(store: SQLiteStore) -> None:
    async with await client_for(store) as client:
        css = await client.get("/status.css")
        assert css.headers["content-type"].startswith("text/css")
        assert "prefers-color-scheme: dark" in css.text
        assert css.headers["cache-control"] == "public, max-age=3600"
        again = await client.get("/status.css", headers={"If-None-Match": css.headers["etag"]})
        assert again.status_code == 304


async def test_page_can_be_turned_off(store: SQLiteStore) -> None:
    async with await client_for(store, public_status=False) as client:
        resp = await client.get("/status")
    assert resp.status_code == 404
    assert resp.json()["error"] == "no such endpoint: GET /status"
