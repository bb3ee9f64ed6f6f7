"""Live members of a role, kept in a JetStream key-value bucket.

    kv, ttl_s = await open_members_bucket(js, ttl_s=6.0)
    async with Membership(kv, "prober:paris", "host-a-4711", ttl_s=ttl_s,
                          on_change=print) as membership:
        membership.members          # frozenset of the live members' names, itself included

Every member of a role (`prober:<vantage>`, `detector`) puts its key,
`<role>.<member>`, into the bucket `netvigil_members` once per `heartbeat_s` (2 s by
default) and watches the keys of its role. It sees a member join at its first put, and
leave in one of two ways:

- a clean stop deletes the key, and every watcher sees the delete at once;
- a member that stops heartbeating (killed, hung, cut off) is dropped once nothing was
  heard from it for `ttl_s`. The bucket's own TTL (its streams' max age) removes the
  key on the server, and the server's delete marker reaches the watchers; each member
  also drops a member it has not heard from for `ttl_s` by its own clock, so a member's
  view does not depend on that marker arriving.

The bucket is made by the first process to need it, with its TTL; later processes use
the bucket's TTL whatever they asked for, so every member expires others alike. A
heartbeat must be well under the TTL (a third of it by default): `Membership` refuses
a heartbeat slower than half the TTL.

Keys are restricted to `[-/_=.a-zA-Z0-9]` and `.` separates tokens, so role and member
names are escaped: every other byte of their UTF-8 becomes `=XX` (hex).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from nats.errors import Error as NATSError
from nats.js.api import KeyValueConfig
from nats.js.kv import KV_DEL, KV_PURGE

from netvigil.bus.buckets import key_value_bucket
from netvigil.errors import NetvigilError

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = [
    "DEFAULT_HEARTBEAT_S",
    "MEMBERS_BUCKET",
    "ClusterError",
    "MemberTable",
    "Membership",
    "decode_name",
    "default_member_name",
    "encode_name",
    "member_key",
    "open_members_bucket",
]

log = logging.getLogger(__name__)

MEMBERS_BUCKET = "netvigil_members"
DEFAULT_HEARTBEAT_S = 2.0
"""How often a member puts its key, unless told otherwise."""

_SAFE = frozenset(b"-_/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

MembersListener = Callable[[frozenset[str]], None]
"""Called with the new set of live members each time it changes."""


class ClusterError(NetvigilError):
    """Membership could not be kept: the bucket could not be made or used, bad timing."""


def encode_name(text: str) -> str:
    """`text` as one key token: `[-_/a-zA-Z0-9]` kept, every other UTF-8 byte as `=XX`."""
    return "".join(chr(b) if b in _SAFE else f"={b:02X}" for b in text.encode())


def decode_name(token: str) -> str:
    """The name `encode_name` turned into `token`."""
    out = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "=":
            out.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(ord(token[i]))
            i += 1
    return out.decode()


def member_key(role: str, member: str) -> str:
    """The bucket key of `member` in `role`: `<role>.<member>`, both escaped."""
    return f"{encode_name(role)}.{encode_name(member)}"


def default_member_name() -> str:
    """A name for this process unique among live members: host, process id, random tail."""
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


async def open_members_bucket(
    js: JetStreamContext, *, ttl_s: float, bucket: str = MEMBERS_BUCKET
) -> tuple[KeyValue, float]:
    """The members bucket, made with TTL `ttl_s` if it does not exist; and its actual TTL.

    Raises ClusterError when the server refuses (JetStream off, no permission).
    """
    try:
        config = KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s, limit_marker_ttl=ttl_s)
        kv = await key_value_bucket(js, config)  # another process's, maybe made otherwise
        status = await kv.status()
    except NATSError as exc:
        raise ClusterError(f"members bucket {bucket}: {exc}") from exc
    return kv, float(status.ttl) if status.ttl else ttl_s


class MemberTable:
    """Who was last heard from when; members silent for `ttl_s` are dropped by `expire`.

    Pure bookkeeping: the caller passes the time (any monotonic clock) to each call.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._heard: dict[str, float] = {}

    @property
    def members(self) -> frozenset[str]:
        """The members in the table now."""
        return frozenset(self._heard)

    def heard(self, member: str, at: float) -> bool:
        """Note a heartbeat of `member` at `at`; True when it is new to the table."""
        new = member not in self._heard
        self._heard[member] = at
        return new

    def left(self, member: str) -> bool:
        """Drop `member` (its key was deleted); True when it was in the table."""
        return self._heard.pop(member, None) is not None

    def expire(self, at: float) -> list[str]:
        """Drop the members not heard from within `ttl_s` before `at`; return them."""
        gone = [m for m, seen in self._heard.items() if at - seen >= self.ttl_s]
        for member in gone:
            del self._heard[member]
        return gone


class Membership:
    """This process as one live member of `role`, and the other live members it sees.

    See the module docs. `start()` watches, puts its own key and reads who is already
    there up to that put, so a member never starts out believing it is alone when it is
    not; `stop()` deletes the key. `on_change` is called (from the event loop) with the
    new member set after every change, and once after `start()`. `now` is the clock the
    TTL is measured on (default `time.monotonic`).
    """

    def __init__(
        self,
        kv: KeyValue,
        role: str,
        member: str,
        *,
        ttl_s: float,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        on_change: MembersListener | None = None,
        now: Callable[[], float] = time.monotonic,
        snapshot_timeout_s: float = 10.0,
    ) -> None:
        if heartbeat_s * 2 > ttl_s:
            raise ClusterError(
                f"heartbeat {heartbeat_s:g} s is too slow for a member TTL of {ttl_s:g} s"
                " (it must be at most half of it)"
            )
        self.kv = kv
        self.role = role
        self.member = member
        self.key = member_key(role, member)
        self.heartbeat_s = heartbeat_s
        self.table = MemberTable(ttl_s)
        self._prefix = f"{encode_name(role)}."
        self._on_change = on_change
        self._now = now
        self._snapshot_timeout_s = snapshot_timeout_s
        self._watcher: Any = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._last: frozenset[str] = frozenset()
        self._echoed_at = 0.0
        """When the watcher last delivered this member's own put (`now` clock)."""

    @property
    def members(self) -> frozenset[str]:
        """The live members of the role as this process sees them, itself included."""
        return self.table.members | {self.member}

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Watch, put this member's key, read the members already there, start heartbeating."""
        try:
            self._watcher = await self.kv.watch(f"{self._prefix}*")
            await self._read_snapshot(await self._beat())
        except (NATSError, TimeoutError) as exc:
            await self._stop_watcher()
            raise ClusterError(f"could not join {self.role} as {self.member}: {exc}") from exc
        self._echoed_at = self._now()
        self._heartbeat_task = asyncio.create_task(
            self._heartbeat_loop(), name=f"heartbeat {self.key}"
        )
        self._watch_task = asyncio.create_task(self._watch_loop(), name=f"watch {self._prefix}*")
        log.info("joined %s as %s: %d member(s)", self.role, self.member, len(self.members))
        self._changed(force=True)

    async def stop(self) -> None:
        """Stop heartbeating and delete this member's key (the others see it at once).

        Calling it again does nothing.
        """
        if self._heartbeat_task is None and self._watcher is None:
            return
        await _cancel(self._heartbeat_task)
        await _cancel(self._watch_task)
        self._heartbeat_task = self._watch_task = None
        try:
            await self.kv.delete(self.key)
        except (NATSError, TimeoutError) as exc:
            log.warning("could not delete %s (it expires by TTL): %s", self.key, exc)
        await self._stop_watcher()

    # -- internals -------------------------------------------------------------------

    async def _read_snapshot(self, revision: int) -> None:
        """Take the keys the new watcher delivers up to this member's own put of `revision`,
        made after the watch began: every key there was comes before it.

        (Not up to the watcher's end-of-snapshot marker: nats-py puts that first when the
        server pushed the snapshot before the watcher asked how much was pending, and a
        busy member then started out believing it was alone.)
        """
        while True:
            entry = await self._watcher.updates(timeout=self._snapshot_timeout_s)
            if entry is None:
                continue
            self._apply(entry)
            if entry.key == self.key and entry.revision >= revision:
                return

    async def _beat(self) -> int:
        """Put this member's key; returns the put's revision."""
        value = {"member": self.member, "role": self.role, "pid": os.getpid(), "ts": time.time()}
        revision: int = await self.kv.put(self.key, json.dumps(value).encode())
        self.table.heard(self.member, self._now())
        return revision

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self._beat()
                if self._now() - self._echoed_at > self.table.ttl_s:
                    await self._rewatch()
            except (NATSError, TimeoutError) as exc:
                log.warning("heartbeat of %s failed: %s", self.key, exc)
            gone = self.table.expire(self._now())
            if gone:
                log.info("%s: expired %s", self.role, ", ".join(sorted(gone)))
                self._changed()

    async def _rewatch(self) -> None:
        """Watch afresh: the watcher has not echoed this member's own puts for a TTL.

        That happens when the server restarted and the watcher's consumer went with it;
        the new watcher's snapshot refreshes the table (members that left meanwhile
        expire by the TTL).
        """
        log.warning("%s: the watch went quiet; watching afresh", self.role)
        await _cancel(self._watch_task)
        self._watch_task = None
        await self._stop_watcher()
        self._watcher = await self.kv.watch(f"{self._prefix}*")
        await self._read_snapshot(await self._beat())
        self._echoed_at = self._now()
        self._watch_task = asyncio.create_task(self._watch_loop(), name=f"watch {self._prefix}*")
        self._changed()

    async def _watch_loop(self) -> None:
        async for entry in self._watcher:
            if entry is not None:
                self._apply(entry)
                self._changed()

    def _apply(self, entry: Any) -> None:
        key: str = entry.key
        if not key.startswith(self._prefix):
            return
        member = decode_name(key[len(self._prefix) :])
        if entry.operation in (KV_DEL, KV_PURGE):
            if member != self.member and self.table.left(member):
                how = "left" if entry.operation == KV_DEL else "timed out (its key aged out)"
                log.info("%s: %s %s", self.role, member, how)
        else:
            if member == self.member:
                self._echoed_at = self._now()
            if self.table.heard(member, self._now()):
                log.info("%s: %s joined", self.role, member)

    def _changed(self, *, force: bool = False) -> None:
        members = self.members
        if members == self._last and not force:
            return
        self._last = members
        if self._on_change is not None:
            try:
                self._on_change(members)
            except Exception:
                log.exception("membership listener failed")

    async def _stop_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            with contextlib.suppress(NATSError, TimeoutError):
                await watcher.stop()


async def _cancel(task: asyncio.Task[None] | None, *, again_s: float = 0.5) -> None:
    """Cancel `task` (if any) and wait until it has ended.

    A cancellation can be lost: in Python 3.11 `asyncio.wait_for` (under nats-py's
    requests) swallows one that lands as its inner future completes, and a heartbeat
    loop that missed its cancel beats on forever. So `task` is cancelled again every
    `again_s` until it has ended. The caller's own cancellation is not swallowed: a
    heartbeat cancelled while it waits here (watching afresh) must still end. An error
    `task` ended with is logged.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=again_s)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("%s ended with %r", task.get_name(), exc)
