"""`netvigil admin`: tokens, acknowledgements, notes and mutes from the shell, on a real
store, and a mute through a running server's admin API."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
from test_incidents_cli import netvigil

from netvigil.cause import Cause
from netvigil.incident import Incident, IncidentState
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.tokens import hash_token


async def store_with_incident(db: Path) -> None:
    async with await SQLiteStore.open(db) as store:
        await store.save_incident(
            Incident(
                id="inc-1",
                state=IncidentState.CONFIRMED,
                start=time.time() - 600,
                confirmed_at=time.time() - 540,
                cause=Cause.SHUTDOWN,
                confidence=0.9,
                services=["portal"],
                targets=["portal-https"],
            )
        )
        await store.flush()


async def test_tokens_acknowledgements_notes_and_mutes_on_the_store(tmp_path: Path) -> None:
    db = tmp_path / "nv.db"
    await store_with_incident(db)
    created = await netvigil("admin", "token", "create", "alice", "--db", str(db))
    assert created.code == 0, created.err
    token = created.out.strip()
    assert token.startswith("nva_") and "not shown again" in created.err
    again = await netvigil("admin", "token", "create", "alice", "--db", str(db))
    assert again.code == 1 and "exists" in again.err and "Traceback" not in again.err
    listed = await netvigil("admin", "token", "list", "--db", str(db))
    assert listed.out.startswith("alice\tcreated ") and token not in listed.out

    acked = await netvigil(
        "admin", "ack", "inc-1", "--note", "on it", "--by", "bob", "--db", str(db)
    )
    assert acked.code == 0, acked.err
    noted = await netvigil("admin", "note", "inc-1", "ISP confirms a cut", "--db", str(db))
    assert noted.code == 0, noted.err
    missing = await netvigil("admin", "ack", "inc-404", "--db", str(db))
    assert missing.code == 1 and "no incident 'inc-404'" in missing.err

    muted = await netvigil("mute", "portal-https", "--for", "2h", "--note", "swap", "--db", str(db))
    assert muted.code == 0, muted.err
    bad = await netvigil("mute", "portal-https", "--for", "soon", "--db", str(db))
    assert bad.code == 2 and "not a duration" in bad.err
    shown = await netvigil("admin", "mutes", "--db", str(db))
    assert shown.out.startswith("portal-https\tuntil ") and shown.out.rstrip().endswith("swap")

    async with await SQLiteStore.open(db) as store:
        [record] = await store.admin_tokens()
        assert record.name == "alice"
        assert await store.use_admin_token(hash_token(token)) == "alice"
        notes = await store.notes("inc-1")
        assert [(n.kind, n.author, n.text) for n in notes] == [
            ("ack", "bob", "on it"),
            ("note", "cli", "ISP confirms a cut"),
        ]
        [mute] = await store.mutes()
        assert mute.target == "portal-https" and 7000 < mute.until - time.time() <= 7200
    revoked = await netvigil("admin", "token", "revoke", "alice", "--db", str(db))
    assert revoked.code == 0
    unmuted = await netvigil("admin", "unmute", "portal-https", "--db", str(db))
    assert unmuted.code == 0
    async with await SQLiteStore.open(db) as store:
        assert await store.admin_tokens() == [] and await store.mutes() == []


@pytest.mark.slow
async def test_a_mute_through_a_running_server_applies_at_once(tmp_path: Path) -> None:
    db = tmp_path / "nv.db"
    await store_with_incident(db)
    token = (await netvigil("admin", "token", "create", "ops", "--db", str(db))).out.strip()
    config = tmp_path / "netvigil.toml"
    config.write_text(
        '[vantage]\nname = "lab"\n[[services]]\nname = "portal"\n[[targets]]\n'
        'name = "portal-tcp"\nservice = "portal"\nkind = "tcp"\nhost = "127.0.0.1"\n'
        f'port = 9\ninterval_s = 1\n[store]\npath = "{db}"\n[server]\nlisten = "127.0.0.1:0"\n'
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netvigil",
        "run",
        "-c",
        str(config),
        "--plain",
        "--duration",
        "40",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        url = ""
        deadline = time.monotonic() + 20
        while not url and time.monotonic() < deadline:
            line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
            if "serving the API on " in line:
                url = line.split("serving the API on ", 1)[1].split("/api/v1")[0]
        assert url, "the server did not start"
        muted = await netvigil(
            "mute", "portal-tcp", "--for", "15m", "--server", url, "--token", token
        )
        assert muted.code == 0, muted.err
        wrong = await netvigil("mute", "portal-tcp", "--server", url, "--token", "nva_wrong")
        assert wrong.code == 1 and "401" in wrong.err
        body = await asyncio.to_thread(_get_json, f"{url}/api/v1/targets/portal-tcp")
        assert body["muted"] is not None and body["muted"]["target"] == "portal-tcp"
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def _get_json(url: str) -> dict[str, object]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:
        return dict(json.loads(resp.read()))
