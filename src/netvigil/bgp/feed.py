"""The BGP feeds of a config, run as one source of signals.

    feed = BgpFeed.from_config(config, base=config_file.parent)   # None without [[bgp]]
    await feed.run(sink)       # until feed.stop(); samples and events go to `sink`
    feed.reconfigure(new_config)   # a reload: the networks watched from now on

Every `[[bgp]]` section becomes a source: a `RisLiveClient` for `kind = "ris_live"`, an
MRT file watch for `kind = "mrt"` (each file its glob matches is imported once, in a
worker thread, in batches the event loop applies in order). All of them feed one
`PrefixVisibility`, so a RIB dump read at start and the live stream after it make one
picture. A feed going down or coming back is a `feed_down` / `feed_up` event for each
watched network. Each watched network with a known visibility is sampled at least every
`resample_s` (the smallest of the sections'), as the feed's time or the wall clock passes,
so a quiet feed still gives the signal detector its baseline.

A config reload changes the networks watched (`reconfigure`): the visibility follows the
new networks, prefixes and ASes, and each RIS Live client changes its subscriptions on
its open connection. The `[[bgp]]` sections themselves are those of the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from netvigil.bgp.feed_state import FeedState, FeedStatus
from netvigil.bgp.model import BgpElement, BgpItem
from netvigil.bgp.mrt import import_mrt
from netvigil.bgp.ris_live import Backoff, RisLiveClient
from netvigil.bgp.ris_messages import subscriptions
from netvigil.bgp.visibility import NetworkVisibility, PrefixVisibility
from netvigil.config.model import BgpFeedConfig, Config, NetworkConfig
from netvigil.signal import SignalEvent, SignalEventKind, SignalSink

__all__ = ["BgpFeed", "feed_visibility"]

log = logging.getLogger("netvigil.bgp")

_BATCH = 2000


class _Stopped(Exception):
    """Raised in the import thread to end an import when the feed stops."""


class BgpFeed:
    """The `[[bgp]]` feeds, their states and the visibility they build.

    `base` is the folder MRT globs are relative to. `tick_s`: how often gathered events
    and samples are handed on when no element arrives to carry them.
    """

    def __init__(
        self,
        sections: Sequence[BgpFeedConfig],
        networks: Sequence[NetworkConfig],
        *,
        base: Path = Path(),
        now: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        backoff: Backoff | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.sections = list(sections)
        self.networks = list(networks)
        self.base = base
        self.now = now
        self.rng = rng
        self.backoff = backoff
        self.tick_s = tick_s
        self.states = [
            FeedState(s.label, s.kind, on_change=self._feed_changed, now=now) for s in sections
        ]
        self.visibility: PrefixVisibility | None = None
        self.files_read: dict[Path, str] = {}
        """Each MRT file imported, with its error ("" when read to a clean end)."""
        self._sink: SignalSink | None = None
        self._stop = asyncio.Event()
        self._clients: list[tuple[BgpFeedConfig, RisLiveClient]] = []

    @classmethod
    def from_config(cls, config: Config, *, base: Path = Path()) -> BgpFeed | None:
        """The feed of `config`'s `[[bgp]]` sections; None when it has none."""
        if not config.bgp:
            return None
        return cls(config.bgp, config.networks, base=base)

    @property
    def watched(self) -> list[str]:
        """The networks the feeds watch: those with prefixes or an AS."""
        return [n.name for n in self.networks if n.prefixes or n.asn is not None]

    def statuses(self) -> list[FeedStatus]:
        """Each feed's state now."""
        return [s.status() for s in self.states]

    def network_visibility(
        self, network: str, *, with_prefixes: bool = True
    ) -> NetworkVisibility | None:
        """`network`'s visibility now; None before `run` or for a network not watched."""
        if self.visibility is None:
            return None
        return self.visibility.visibility(network, with_prefixes=with_prefixes)

    def reconfigure(self, config: Config) -> None:
        """Watch the networks of a reloaded `config` from now on (call it on the event
        loop `run` runs on): the visibility takes them (`PrefixVisibility.reconfigure`)
        and each RIS Live client subscribes to their prefixes and ASes, unsubscribing
        from those no longer watched, on its open connection."""
        self.networks = list(config.networks)
        if self.visibility is not None:
            self.visibility.reconfigure(self.networks)
        for section, client in self._clients:
            client.watch(subscriptions(self.networks, section.collectors))

    def stop(self) -> None:
        """Make `run` return (it closes its connections first)."""
        self._stop.set()

    async def run(self, sink: SignalSink) -> None:
        """Run every feed until `stop`, handing samples and events to `sink`."""
        self._sink = sink
        self.visibility = feed_visibility(self.sections, self.networks, sink)
        tasks = [
            asyncio.create_task(self._source(section, state), name=f"bgp-{state.name}")
            for section, state in zip(self.sections, self.states, strict=True)
        ]
        tasks.append(asyncio.create_task(self._tick(), name="bgp-tick"))
        try:
            await self._stop.wait()
        finally:
            self._stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _apply(self, item: BgpItem) -> None:
        assert self.visibility is not None
        self.visibility.update(item)

    def _apply_batch(self, items: list[BgpElement]) -> None:
        update = self._apply
        for item in items:
            update(item)

    async def _source(self, section: BgpFeedConfig, state: FeedState) -> None:
        """Run one feed; a fault in it is logged and leaves it down, the others running."""
        try:
            await self._run_source(section, state)
        except Exception as exc:
            log.exception("BGP feed %s stopped", state.name)
            state.down(f"stopped by a fault: {exc!r}")

    async def _run_source(self, section: BgpFeedConfig, state: FeedState) -> None:
        if section.kind == "ris_live":
            client = RisLiveClient(
                section.url,
                subscriptions(self.networks, section.collectors),
                self._apply,
                state,
                client_name=section.client,
                collectors=section.collectors,
                backoff=self.backoff,
                rng=self.rng,
            )
            self._clients.append((section, client))
            await client.run(self._stop)
        else:
            await self._watch_mrt(section, state)

    async def _watch_mrt(self, section: BgpFeedConfig, state: FeedState) -> None:
        """Import each file the glob matches once; look again every `poll_s`."""
        assert section.path is not None
        pattern = str(self.base / section.path)
        state.up()
        while not self._stop.is_set():
            for path in await asyncio.to_thread(_files, pattern):
                if path in self.files_read:
                    continue
                error = await self._import(path)
                self.files_read[path] = error
                state.heard()
                if error:
                    state.note(error)
                    log.warning("MRT import: %s", error)
                if self._stop.is_set():
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), section.poll_s)

    async def _import(self, path: Path) -> str:
        """Import one file in a worker thread; the loop applies its elements in batches."""
        loop = asyncio.get_running_loop()
        batch: list[BgpElement] = []

        async def apply(items: list[BgpElement]) -> None:
            self._apply_batch(items)

        def hand_on(element: BgpElement) -> None:
            if self._stop.is_set():
                raise _Stopped("netvigil is stopping")
            batch.append(element)
            if len(batch) >= _BATCH:
                asyncio.run_coroutine_threadsafe(apply(batch.copy()), loop).result()
                batch.clear()

        report = await asyncio.to_thread(import_mrt, path, hand_on)
        if batch:
            self._apply_batch(batch)
        assert self.visibility is not None
        self.visibility.flush(self.visibility.latest + self.visibility.hold_s)
        return report.error

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.visibility is not None:
                self.visibility.flush(max(self.now(), self.visibility.latest))

    def _feed_changed(self, status: FeedStatus) -> None:
        if self._sink is None:
            return
        kind: SignalEventKind = "feed_up" if status.connected else "feed_down"
        t = status.since if status.since is not None else self.now()
        detail = f"{status.name} ({status.kind}) " + (
            "connected" if status.connected else f"down: {status.last_error}"
        )
        for network in self.watched:
            self._sink.event(SignalEvent(network, kind, t, detail=detail, source=status.kind))


def feed_visibility(
    sections: Sequence[BgpFeedConfig], networks: Sequence[NetworkConfig], sink: SignalSink
) -> PrefixVisibility:
    """The `PrefixVisibility` `sections` feed, as `netvigil run` builds it: peers heard
    within the smallest `window_s`, a sample at least every smallest `resample_s`."""
    window = min((s.window_s for s in sections), default=3600.0)
    resample = min((s.resample_s for s in sections), default=None)
    source = "+".join(sorted({s.kind for s in sections}))
    return PrefixVisibility(networks, sink, source=source, window_s=window, resample_s=resample)


def _files(pattern: str) -> list[Path]:
    """The files `pattern` matches, in name order (dump names sort by time)."""
    return [p for p in map(Path, sorted(glob.glob(pattern))) if p.is_file()]
