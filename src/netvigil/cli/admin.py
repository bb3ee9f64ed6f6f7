"""`netvigil admin ...`: admin tokens, acknowledgements, notes and mutes, from the shell.

Run on the server, the commands work on the store directly (`-c CONFIG` or `--db FILE`,
like the other reading commands). A mute changes what a running `netvigil run` does, so
`mute` and `unmute` go through its admin API when given `--server URL --token T` (the
running server applies them at once); on the store directly they apply from the next
start. Tokens are printed once and kept only as their sha256 digests.

    netvigil admin token create alice
    netvigil admin token list
    netvigil admin ack INCIDENT --note "on it"
    netvigil admin note INCIDENT "ISP confirms a cut at 21:03"
    netvigil admin mute portal-https --for 2h --note "router swap"
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from netvigil.cli._common import (
    ConfigOption,
    DBOption,
    existing_store,
    load_optional_config,
    store_path,
)
from netvigil.cli._loop import run_async
from netvigil.cli._time import format_ts, parse_moment
from netvigil.errors import NetvigilError
from netvigil.store.open import OpenedStore, open_store
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.tokens import new_token

__all__ = ["app", "mute"]

app = typer.Typer(help="Admin tokens, acknowledgements, notes and maintenance mutes.")
tokens = typer.Typer(help="Admin tokens for the web API's admin endpoints.")
app.add_typer(tokens, name="token")

T = TypeVar("T")

AuthorOption = Annotated[str, typer.Option("--by", help="Who acknowledges or writes.")]
ServerOption = Annotated[
    str | None, typer.Option(help="A running server's URL: the change goes through its API.")
]
TokenOption = Annotated[
    str | None, typer.Option(help="An admin token for --server.", envvar="NETVIGIL_TOKEN")
]


def _on_store(
    config_path: Path | None,
    db: Path | None,
    work: Callable[[OpenedStore], Awaitable[T]],
    *,
    create: bool = False,
) -> T:
    config = load_optional_config(config_path)
    postgres = config.store if config is not None and config.store.kind == "postgres" else None

    async def go() -> T:
        if postgres is not None and db is None:
            opening = open_store(postgres)
        elif create:
            opening = SQLiteStore.open(store_path(config_path, config, db))
        else:
            opening = SQLiteStore.open(existing_store(config_path, config, db))
        async with await opening as store:
            result = await work(store)
            await store.flush()
            return result

    return run_async(go())


@tokens.command("create")
def token_create(name: str, config_path: ConfigOption = None, db: DBOption = None) -> None:
    """Create an admin token NAME; it is printed once (the store is made if need be, so
    the first token can come before the first `netvigil run`)."""
    token, digest = new_token()

    async def add(store: OpenedStore) -> None:
        if any(t.name == name for t in await store.admin_tokens()):
            raise NetvigilError(f"an admin token named {name!r} exists; revoke it first")
        await store.add_admin_token(name, digest)

    _on_store(config_path, db, add, create=True)
    sys.stdout.write(token + "\n")
    sys.stderr.write(f"admin token {name!r} created; it is not shown again\n")


@tokens.command("list")
def token_list(config_path: ConfigOption = None, db: DBOption = None) -> None:
    """List the admin tokens (names and times, never the tokens)."""
    for t in _on_store(config_path, db, lambda store: store.admin_tokens()):
        used = "never used" if t.last_used is None else f"last used {format_ts(t.last_used)}"
        sys.stdout.write(f"{t.name}\tcreated {format_ts(t.created)}\t{used}\n")


@tokens.command("revoke")
def token_revoke(name: str, config_path: ConfigOption = None, db: DBOption = None) -> None:
    """Revoke the admin token NAME."""
    if not _on_store(config_path, db, lambda store: store.revoke_admin_token(name)):
        raise NetvigilError(f"no admin token named {name!r}")
    sys.stderr.write(f"admin token {name!r} revoked\n")


def _note(
    incident_id: str, kind: str, author: str, text: str, config_path: Path | None, db: Path | None
) -> None:
    async def add(store: OpenedStore) -> None:
        if await store.incident(incident_id) is None:
            raise NetvigilError(f"no incident {incident_id!r} in the store")
        await store.add_note(incident_id, "ack" if kind == "ack" else "note", author, text)

    _on_store(config_path, db, add)


@app.command("ack")
def ack(
    incident_id: str,
    note: Annotated[str, typer.Option(help="Why, or what is being done.")] = "",
    by: AuthorOption = "cli",
    config_path: ConfigOption = None,
    db: DBOption = None,
) -> None:
    """Acknowledge an incident (shown on its dashboard page and in the API)."""
    _note(incident_id, "ack", by, note, config_path, db)
    sys.stderr.write(f"incident {incident_id} acknowledged\n")


@app.command("note")
def note(
    incident_id: str,
    text: str,
    by: AuthorOption = "cli",
    config_path: ConfigOption = None,
    db: DBOption = None,
) -> None:
    """Add a note to an incident (shown on its dashboard page and in the API)."""
    if not text.strip():
        raise typer.BadParameter("the note is empty", param_hint="TEXT")
    _note(incident_id, "note", by, text, config_path, db)
    sys.stderr.write(f"note added to incident {incident_id}\n")


def _span(text: str) -> float:
    now = time.time()
    if text[:1].isdigit() and text[-1:] in "smhd":
        return now - parse_moment(text, option="--for", now=now)
    raise typer.BadParameter(
        f"{text!r} is not a duration like 90s, 15m, 2h or 7d", param_hint="--for"
    )


def _api(server: str, token: str | None, method: str, path: str, body: object = None) -> None:
    if not token:
        raise typer.BadParameter("--server needs an admin token (--token or NETVIGIL_TOKEN)")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.rstrip("/") + "/api/v1/admin" + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            return
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("error", detail)
        raise NetvigilError(f"{server}: {method} {path}: {exc.code} {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise NetvigilError(f"{server}: cannot reach the server: {exc}") from exc


@app.command("mute")
def mute(
    target: str,
    for_: Annotated[str, typer.Option("--for", help="How long: 90s, 15m, 2h, 7d.")] = "1h",
    note: Annotated[str, typer.Option(help="Why (shown on the incident).")] = "",
    server: ServerOption = None,
    token: TokenOption = None,
    config_path: ConfigOption = None,
    db: DBOption = None,
) -> None:
    """Mute TARGET for maintenance: its incidents are labelled and not alerted."""
    until = time.time() + _span(for_)
    if server is not None:
        _api(server, token, "PUT", f"/mutes/{target}", {"until": until, "note": note})
    else:
        _on_store(config_path, db, lambda store: store.set_mute(target, until, note))
        sys.stderr.write("stored; a running server applies it from its next start (or --server)\n")
    sys.stderr.write(f"{target} muted until {format_ts(until)}\n")


@app.command("unmute")
def unmute(
    target: str,
    server: ServerOption = None,
    token: TokenOption = None,
    config_path: ConfigOption = None,
    db: DBOption = None,
) -> None:
    """Lift TARGET's maintenance mute."""
    if server is not None:
        _api(server, token, "DELETE", f"/mutes/{target}")
    elif not _on_store(config_path, db, lambda store: store.lift_mute(target)):
        raise NetvigilError(f"{target} is not muted")
    sys.stderr.write(f"{target} unmuted\n")


@app.command("mutes")
def mutes(config_path: ConfigOption = None, db: DBOption = None) -> None:
    """List the mutes in force."""
    now = time.time()
    for m in _on_store(config_path, db, lambda store: store.mutes()):
        if m.in_force(now):
            sys.stdout.write(f"{m.target}\tuntil {format_ts(m.until)}\t{m.note}\n")
