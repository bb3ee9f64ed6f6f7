"""The read API and admin actions against a real SQLiteStore, through the ASGI app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apidata import NOW, fill, history, make_config, measurement

from netvigil.config.model import Config
from netvigil.monitor import Monitor
from netvigil.probes import ProbeSet, TCPSpec
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.server import WebServer
from netvigil.web.state import LiveState
from netvigil.web.tokens import create_admin_token


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "api.db")
    yield s
    await s.close()


@pytest.fixture
async def client(store: SQLiteStore) -> AsyncIterator[httpx.AsyncClient]:
    await fill(store)
    app = create_app(store, make_config(), now=lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
        yield c


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert list(data) == ["ok", "error", "errors", "status"]
    assert data["status"] == status
    message: str = data["error"]
    return message


async def test_services_have_their_status_now(client: httpx.AsyncClient) -> None:
    services = {s["name"]: s for s in ok(await client.get("/api/v1/services"))}
    assert services["portal"]["status"] == "down"
    assert services["portal"]["since"] == NOW - 300
    assert services["portal"]["open_incidents"] == ["inc-1"]
    assert services["portal"]["description"] == "e-Albania portal"
    assert services["tax"]["status"] == "working"
    assert services["parliament"]["status"] == "degraded"
    assert services["parliament"]["since"] == NOW - 120
    assert services["quiet"]["status"] == "unknown"


async def test_one_service_lists_its_targets_per_vantage(client: httpx.AsyncClient) -> None:
    data = ok(await client.get("/api/v1/services/parliament"))
    [target] = data["target_states"]
    assert target["status"] == "partial"
    by_vantage = {p["vantage"]: p for p in target["vantages"]}
    assert by_vantage["tirana"]["ok"] is False
    assert by_vantage["tirana"]["outcome"] == "tcp_timeout"
    assert by_vantage["tirana"]["failures"] == 2
    assert by_vantage["frankfurt"]["ok"] is True
    msg = error(await client.get("/api/v1/services/nope"), 404)
    assert msg == "no such service: 'nope'"


async def test_targets_filter_and_unknown_target(client: httpx.AsyncClient) -> None:
    down = ok(await client.get("/api/v1/targets", params={"status": "down"}))
    assert [t["name"] for t in down] == ["portal-tcp"]
    portal = ok(await client.get("/api/v1/targets/portal-tcp"))
    assert portal["kind"] == "tcp"
    assert portal["service"] == "portal"
    assert {p["vantage"] for p in portal["vantages"]} == {"tirana", "frankfurt"}
    assert error(await client.get("/api/v1/targets/nope"), 404) == "no such target: 'nope'"
    assert "status" in error(await client.get("/api/v1/targets?status=sideways"), 422) + str(
        (await client.get("/api/v1/targets?status=sideways")).json()["errors"]
    )


async def test_overview_grid(client: httpx.AsyncClient) -> None:
    data = ok(await client.get("/api/v1/overview"))
    assert data["vantages"] == ["tirana", "frankfurt"]
    rows = {r["service"]: r for r in data["services"]}
    assert rows["parliament"]["cells"] == ["down", "working"]
    assert rows["portal"]["cells"] == ["down", "down"]
    assert data["counts"] == {"down": 1, "working": 1, "degraded": 1, "unknown": 1}


async def test_measurements_are_paged(client: httpx.AsyncClient) -> None:
    params = {"target": "portal-tcp", "vantage": "tirana", "since": NOW - 3600, "limit": 4}
    first = ok(await client.get("/api/v1/measurements", params=params))
    assert len(first["items"]) == 4
    assert first["next_after"] == first["items"][-1]["id"]
    rest = ok(
        await client.get("/api/v1/measurements", params={**params, "after": first["next_after"]})
    )
    assert len(rest["items"]) == 4
    last = ok(
        await client.get(
            "/api/v1/measurements", params={**params, "after": rest["next_after"], "limit": 10}
        )
    )
    assert len(last["items"]) == 2
    assert last["next_after"] is None
    ids = [m["id"] for page in (first, rest, last) for m in page["items"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == 10
    same = ok(
        await client.get(
            "/api/v1/targets/portal-tcp/measurements", params={"vantage": "tirana", "limit": 100}
        )
    )
    assert [m["id"] for m in same["items"]] == ids


async def test_rollups_by_target_vantage_and_range(client: httpx.AsyncClient) -> None:
    params: dict[str, Any] = {"vantage": "tirana", "since": NOW - 600, "until": NOW, "limit": 3}
    page = ok(await client.get("/api/v1/targets/portal-tcp/rollups", params=params))
    # a page never ends inside a minute: the third minute is left to the next page
    assert [r["minute"] for r in page["items"]] == [NOW - 600, NOW - 540]
    assert page["items"][0]["success_ratio"] == 1.0
    assert page["next_since"] == NOW - 480
    minutes = [r["minute"] for r in page["items"]]
    while page["next_since"] is not None:
        page = ok(
            await client.get(
                "/api/v1/targets/portal-tcp/rollups", params={**params, "since": page["next_since"]}
            )
        )
        minutes += [r["minute"] for r in page["items"]]
    assert minutes == [NOW - 600 + 60 * i for i in range(10)]
    both = ok(await client.get("/api/v1/rollups", params={"target": ["tax-tcp"], "limit": 100}))
    assert {r["vantage"] for r in both["items"]} == {"tirana", "frankfurt"}


async def test_rollups_in_buckets_sum_the_minutes(client: httpx.AsyncClient) -> None:
    params: dict[str, Any] = {"vantage": "tirana", "since": NOW - 3600, "until": NOW}
    url = "/api/v1/targets/portal-tcp/rollups"
    minutes = ok(await client.get(url, params={**params, "limit": 1000}))
    assert minutes["step"] == 60
    buckets = ok(await client.get(url, params={**params, "step": 300}))
    assert buckets["step"] == 300
    assert buckets["next_since"] is None
    assert all(b["minute"] % 300 == 0 for b in buckets["items"])
    for b in buckets["items"]:
        inside = [m for m in minutes["items"] if b["minute"] <= m["minute"] < b["minute"] + 300]
        assert inside
        assert b["count"] == sum(m["count"] for m in inside)
        assert b["ok_count"] == sum(m["ok_count"] for m in inside)
    assert sum(b["count"] for b in buckets["items"]) == sum(m["count"] for m in minutes["items"])
    first = ok(await client.get(url, params={**params, "step": 300, "limit": 1}))
    assert len(first["items"]) == 1
    assert first["next_since"] == buckets["items"][1]["minute"]


BAD_QUERIES = [
    ("/api/v1/rollups?step=90", "invalid request"),
    ("/api/v1/rollups?step=0", "invalid request"),
    ("/api/v1/targets/portal-tcp/rollups?step=86460", "invalid request"),
    ("/api/v1/measurements?since=100&until=50", "until (50.0) must be after since (100.0)"),
    ("/api/v1/rollups?limit=0", "invalid request"),
    ("/api/v1/rollups?limit=20001", "invalid request"),
    ("/api/v1/measurements?since=nan", "invalid request"),
    ("/api/v1/measurements?until=1e300", "invalid request"),
    ("/api/v1/incidents?state=sideways", "invalid request"),
    ("/api/v1/targets/nope/rollups", "no such target: 'nope'"),
]


@pytest.mark.parametrize(("path", "message"), BAD_QUERIES)
async def test_bad_queries_say_what_is_wrong(
    client: httpx.AsyncClient, path: str, message: str
) -> None:
    resp = await client.get(path)
    assert 400 <= resp.status_code < 500
    assert resp.json()["error"] == message
    if message == "invalid request":
        assert resp.json()["errors"]


async def test_incidents_with_timeline_cause_history_and_evidence(
    client: httpx.AsyncClient,
) -> None:
    listed = ok(await client.get("/api/v1/incidents", params={"open": True}))
    assert [i["id"] for i in listed] == ["inc-1"]
    assert listed[0]["cause"] == "shutdown"
    assert ok(await client.get("/api/v1/incidents", params={"service": "tax"})) == []
    detail = ok(await client.get("/api/v1/incidents/inc-1"))
    assert [e["kind"] for e in detail["timeline"]] == ["opened", "confirmed", "cause_changed"]
    assert [c["cause"] for c in detail["cause_history"]] == ["unknown", "shutdown"]
    assert detail["evidence"][0]["statement"] == "controls answered from 2 vantages"
    assert detail["acknowledged"] is False
    assert error(await client.get("/api/v1/incidents/nope"), 404) == "no such incident: 'nope'"


async def test_reports_in_html_and_markdown(client: httpx.AsyncClient) -> None:
    html = await client.get("/api/v1/incidents/inc-1/report.html")
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    assert "<script" not in html.text.lower()
    csp = html.headers["content-security-policy"]  # inline styles and images, no script
    assert "default-src 'none'" in csp
    assert "script" not in csp
    assert "portal" in html.text
    md = await client.get("/api/v1/incidents/inc-1/report.md")
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    figure = md.text.split("](report-files/", 1)[1].split(")", 1)[0]
    png = await client.get(f"/api/v1/incidents/inc-1/report-files/{figure}")
    assert png.status_code == 200
    assert png.content.startswith(b"\x89PNG")
    error(await client.get("/api/v1/incidents/inc-1/report-files/nothing.png"), 404)
    error(await client.get("/api/v1/incidents/nope/report.html"), 404)


async def test_vantages_have_last_seen_and_health(client: httpx.AsyncClient) -> None:
    data = {v["name"]: v for v in ok(await client.get("/api/v1/vantages"))}
    assert data["tirana"]["local"] is True
    assert data["tirana"]["last_seen"] == NOW - 60
    assert data["tirana"]["health"] == "healthy"
    assert data["frankfurt"]["country"] == "DE"
    assert data["frankfurt"]["targets"] == 4
    assert ok(await client.get("/api/v1/vantages/frankfurt"))["ok"] == 3
    error(await client.get("/api/v1/vantages/nope"), 404)


async def test_admin_actions_with_a_token(client: httpx.AsyncClient, store: SQLiteStore) -> None:
    token = create_admin_token(store, "alice")
    auth = {"Authorization": f"Bearer {token}"}
    assert ok(await client.get("/api/v1/admin/whoami", headers=auth)) == {"name": "alice"}

    ack = ok(
        await client.post(
            "/api/v1/admin/incidents/inc-1/ack", json={"note": "on it"}, headers=auth
        ),
        201,
    )
    assert ack["author"] == "alice"
    ok(
        await client.post(
            "/api/v1/admin/incidents/inc-1/notes", json={"text": "ISP called"}, headers=auth
        ),
        201,
    )
    detail = ok(await client.get("/api/v1/incidents/inc-1"))
    assert detail["acknowledged"] is True
    assert [(n["kind"], n["text"]) for n in detail["notes"]] == [
        ("ack", "on it"),
        ("note", "ISP called"),
    ]
    error(await client.post("/api/v1/admin/incidents/nope/ack", json={}, headers=auth), 404)
    error(
        await client.post("/api/v1/admin/incidents/inc-1/notes", json={"text": ""}, headers=auth),
        422,
    )

    muted = ok(
        await client.put(
            "/api/v1/admin/mutes/portal-tcp",
            json={"until": NOW + 3600, "note": "works"},
            headers=auth,
        )
    )
    assert muted["until"] == NOW + 3600
    services = {s["name"]: s for s in ok(await client.get("/api/v1/services"))}
    assert services["portal"]["status"] == "maintenance"
    assert ok(await client.get("/api/v1/targets/portal-tcp"))["muted"]["note"] == "works"
    msg = error(
        await client.put("/api/v1/admin/mutes/portal-tcp", json={"until": NOW - 1}, headers=auth),
        422,
    )
    assert "future" in msg
    assert (await client.delete("/api/v1/admin/mutes/portal-tcp", headers=auth)).status_code == 204
    assert ok(await client.get("/api/v1/services/portal"))["status"] == "down"
    error(await client.delete("/api/v1/admin/mutes/portal-tcp", headers=auth), 404)

    created = ok(await client.post("/api/v1/admin/tokens", json={"name": "bob"}, headers=auth), 201)
    names = [t["name"] for t in ok(await client.get("/api/v1/admin/tokens", headers=auth))]
    assert names == ["alice", "bob"]
    assert created["token"] not in json.dumps(
        ok(await client.get("/api/v1/admin/tokens", headers=auth))
    )
    error(await client.post("/api/v1/admin/tokens", json={"name": "bob"}, headers=auth), 409)
    bob = {"Authorization": f"Bearer {created['token']}"}
    assert (await client.delete("/api/v1/admin/tokens/bob", headers=auth)).status_code == 204
    error(await client.get("/api/v1/admin/whoami", headers=bob), 401)


async def test_agents_added_through_the_api_can_ingest(
    client: httpx.AsyncClient, store: SQLiteStore
) -> None:
    auth = {"Authorization": f"Bearer {create_admin_token(store, 'root')}"}
    agent = ok(
        await client.post("/api/v1/admin/agents", json={"name": "durres"}, headers=auth), 201
    )
    agents = {a["name"]: a for a in ok(await client.get("/api/v1/admin/agents", headers=auth))}
    assert agents["frankfurt"]["configured"] is True
    assert agents["durres"]["configured"] is False
    batch = {
        "agent": "durres",
        "measurements": [measurement("tax-tcp", "durres", NOW - 5, True).to_json()],
    }
    shipped = await client.post(
        "/api/v1/ingest", json=batch, headers={"Authorization": f"Bearer {agent['token']}"}
    )
    assert shipped.json() == {"ok": True, "accepted": 1, "duplicates": 0}
    assert (await client.delete("/api/v1/admin/agents/durres", headers=auth)).status_code == 204
    refused = await client.post(
        "/api/v1/ingest", json=batch, headers={"Authorization": f"Bearer {agent['token']}"}
    )
    assert refused.status_code == 401
    error(await client.post("/api/v1/admin/agents", json={"name": "frankfurt"}, headers=auth), 409)
    error(await client.delete("/api/v1/admin/agents/frankfurt", headers=auth), 409)
    stored = await store.measurements(MeasurementQuery(vantages=["durres"]))
    assert len(stored) == 1


async def test_admin_tables_keep_only_token_hashes(store: SQLiteStore) -> None:
    token = create_admin_token(store, "carol")
    raw = Path(store.path).read_bytes() + Path(f"{store.path}-wal").read_bytes()
    assert token.encode() not in raw
    with pytest.raises(ValueError, match="exists already"):
        create_admin_token(store, "carol")


# -- the live stream ----------------------------------------------------------------------


async def read_events(lines: AsyncIterator[str], want: str, timeout_s: float) -> dict[str, Any]:
    """The data of the next `want` event from the lines of an SSE response."""
    event = None
    async with asyncio.timeout(timeout_s):
        async for line in lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == want:
                data: dict[str, Any] = json.loads(line[6:])
                return data
    raise AssertionError(f"stream ended without a {want!r} event")


async def test_stream_reports_a_state_change_when_a_server_stops(tmp_path: Path) -> None:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        target = TCPSpec(
            name="svc-tcp",
            service="svc",
            host="127.0.0.1",
            port=port,
            interval_s=0.2,
            timeout_s=1.0,
        )
        config = Config.model_validate(
            {"services": [{"name": "svc"}], "targets": [target.model_dump()]}
        )
        async with await SQLiteStore.open(tmp_path / "live.db") as store:
            state = LiveState(config)
            app = create_app(store, config, state=state, keepalive_s=0.2)
            stop = asyncio.Event()
            async with ProbeSet() as probes:
                monitor = Monitor(config.targets, probes, [store, state], "local", config.scheduler)
                running = asyncio.create_task(monitor.run(stop))
                server = await WebServer.start(app)
                try:
                    async with (
                        httpx.AsyncClient(base_url=server.url) as http,
                        http.stream("GET", "/api/v1/stream", params={"max_s": 20}) as resp,
                    ):
                        assert resp.headers["content-type"].startswith("text/event-stream")
                        lines = resp.aiter_lines()
                        await read_events(lines, "hello", 5)
                        async with asyncio.timeout(5):
                            while state.target("svc-tcp").status != "up":
                                await asyncio.sleep(0.05)
                        listener.close()
                        await listener.wait_closed()
                        down = await read_events(lines, "state", 5)
                        while down["ok"]:  # an "up" change sent before the stop may be queued
                            down = await read_events(lines, "state", 5)
                        assert down["target"] == "svc-tcp"
                        assert down["ok"] is False
                        assert down["outcome"] == "tcp_refused"
                finally:
                    stop.set()
                    await running
                    await server.stop()


async def test_stream_keepalive_and_bounded_queue(store: SQLiteStore) -> None:
    config = make_config()
    state = LiveState(config, now=lambda: NOW)
    sub = state.subscribe(maxsize=3)
    for i, m in enumerate(history()[:40]):
        state.submit(m)
        if i == 0:
            assert (await sub.get(0.1)) is not None
    assert sub.overflowed
    assert await sub.get(0.01) is None
    state.unsubscribe(sub)
    assert state.subscribers == 0
