"""Maintenance mutes shared live by every process of a scale-out: webs, detectors, alerters.

    feed = await MuteFeed.open(js)               # watch first ...
    state.set_mutes(await store.mutes())         # ... then read the store ...
    feed.follow(state)                           # ... then apply every change from then on
    await feed.muted(mute)                       # the admin API set one (stored first)
    await feed.unmuted("portal-tcp")             # or lifted it
    await feed.close()

A mute set or lifted through one web process's admin API is written to the store, and
then to the JetStream key-value bucket `netvigil_mutes`: one key per muted target (its
name in URL-safe base64), holding the mute as JSON; lifting deletes the key. Every web,
detector and alerter watches the bucket and applies each change as it comes
(`mute`/`unmute` on what it holds: a web's live state, a detector's current state, an
alerter's `MuteTable`), within a fraction of a second.

A process with a store starts the watch before it reads the store's mutes and applies
the changes the watch delivers after that read (`follow(holder)`): a change is either
in what it read or delivered after it, never lost in between, and one that is both is
applied twice, which changes nothing. An alerter has no store: it takes the bucket's
contents as the mutes in force (`follow(table, snapshot=True)`). Mutes changed with
`netvigil admin mute` on the store directly (without `--server`) are not announced:
running processes apply them from their next start.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

import nats.errors
from nats.js.api import KeyValueConfig
from nats.js.kv import KV_DEL, KV_PURGE

from netvigil.bus.buckets import key_value_bucket, watched_snapshot
from netvigil.cluster.membership import ClusterError
from netvigil.incident import IncidentEvent
from netvigil.maintenance import Mute, mute_note

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = ["MUTES_BUCKET", "MuteFeed", "MuteHolder", "MuteTable"]

log = logging.getLogger(__name__)

MUTES_BUCKET = "netvigil_mutes"
"""The key-value bucket of the mutes set through the admin API."""

_NATS_ERRORS = (nats.errors.Error, OSError, TimeoutError)


class MuteHolder(Protocol):
    """What mutes are applied to (`LiveState`, `CurrentState` and `MuteTable` are)."""

    def mute(self, mute: Mute) -> object: ...

    def unmute(self, target: str) -> object: ...


def _key(target: str) -> str:
    return base64.urlsafe_b64encode(target.encode()).decode()


def _encode(mute: Mute) -> bytes:
    body = {"target": mute.target, "until": mute.until, "note": mute.note, "created": mute.created}
    return json.dumps(body, separators=(",", ":")).encode()


def _decode(data: bytes) -> Mute:
    """Raises ValueError."""
    try:
        obj = json.loads(data)
        return Mute(
            str(obj["target"]), float(obj["until"]), str(obj["note"]), float(obj["created"])
        )
    except (KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a mute: {type(exc).__name__}: {exc}") from exc


class MuteTable:
    """The mutes an alerter holds, and the alert suppression they make: an event of an
    incident whose every target is muted is quiet (stored by nobody here, alerted by no
    route), even if the detector judged it before the mute reached it."""

    def __init__(self) -> None:
        self.mutes: dict[str, Mute] = {}

    def mute(self, mute: Mute) -> None:
        self.mutes[mute.target] = mute

    def unmute(self, target: str) -> bool:
        return self.mutes.pop(target, None) is not None

    def quieted(self, event: IncidentEvent, now: float) -> IncidentEvent:
        """`event`, made quiet if every target of its incident is muted at `now`."""
        if event.quiet or not self.mutes:
            return event
        if mute_note(self.mutes, event.incident.targets, now) is None:
            return event
        return IncidentEvent(event.kind, event.ts, event.incident, quiet=True)


class MuteFeed:
    """The mutes bucket, watched (see the module docs). `applied` counts the changes
    applied to the holder; `snapshot` holds the bucket's mutes as of `open`."""

    def __init__(self, kv: KeyValue, watcher: Any, snapshot: dict[str, Mute]) -> None:
        self.kv = kv
        self.snapshot = snapshot
        self.applied = 0
        self._watcher = watcher
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, js: JetStreamContext, *, bucket: str = MUTES_BUCKET) -> MuteFeed:
        """Make the bucket if need be, start watching it and read what it holds. Raises
        ClusterError when NATS refuses."""
        try:
            kv = await key_value_bucket(js, KeyValueConfig(bucket=bucket, history=1))
            watcher: Any = await kv.watchall()
            snapshot: dict[str, Mute] = {}
            for entry in await watched_snapshot(js, bucket, watcher, timeout_s=5.0):
                mute = _mute_of(entry)
                if mute is not None:
                    snapshot[mute.target] = mute
        except _NATS_ERRORS as exc:
            raise ClusterError(f"mutes bucket {bucket}: {exc!r}") from exc
        return cls(kv, watcher, snapshot)

    def follow(self, holder: MuteHolder, *, snapshot: bool = False) -> None:
        """Apply every change after `open` to `holder` from now on; with `snapshot`,
        first the mutes the bucket held then."""
        if snapshot:
            for mute in self.snapshot.values():
                holder.mute(mute)
        self._task = asyncio.create_task(self._apply_forever(holder), name="mute feed")

    async def muted(self, mute: Mute) -> None:
        """Tell every process `mute` is set (failures are logged: the mute is stored)."""
        try:
            await self.kv.put(_key(mute.target), _encode(mute))
        except _NATS_ERRORS as exc:
            log.warning("mute of %s not announced (others see it on restart): %s", mute.target, exc)

    async def unmuted(self, target: str) -> None:
        """Tell every process `target`'s mute is lifted (failures are logged)."""
        try:
            await self.kv.delete(_key(target))
        except _NATS_ERRORS as exc:
            log.warning("unmute of %s not announced (others see it on restart): %s", target, exc)

    async def close(self) -> None:
        """Stop applying changes and watching."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(*_NATS_ERRORS):
            await self._watcher.stop()

    async def _apply_forever(self, holder: MuteHolder) -> None:
        async for entry in self._watcher:
            if entry is None:
                continue
            try:
                if entry.operation in (KV_DEL, KV_PURGE):
                    holder.unmute(base64.urlsafe_b64decode(entry.key).decode())
                else:
                    mute = _mute_of(entry)
                    if mute is None:
                        continue
                    holder.mute(mute)
            except Exception:  # a holder's failure must not end the feed
                log.exception("mute change %s not applied", entry.key)
                continue
            self.applied += 1


def _mute_of(entry: Any) -> Mute | None:
    """The mute a bucket entry holds (None for a delete or something else)."""
    if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
        return None
    try:
        return _decode(entry.value)
    except ValueError as exc:
        log.warning("skipped mute entry %s: %s", entry.key, exc)
        return None
