"""The signal recorder: a `SignalSink` that keeps the network plane in the store, so a
network's chart and an incident's network-plane evidence survive a restart.

    recorder = SignalRecorder(store, views=feed.network_visibility)
    feed.run(SignalFanout([recent, plane, recorder]))
    await recorder.run(stop)           # writes every `flush_s` until `stop`, then once more

`sample` and `event` only append to memory under a lock (they never block, from any
thread); `run` writes what gathered in one `add_signals` call per `flush_s`. Samples are
thinned by their own time: of one (entity, signal), a sample at least `every_s` after the
last one kept is kept at once; the others wait, and the newest of those is kept with the
next sample kept or at the next flush, whichever comes first. So the last value before
any change is never lost, and a replayed MRT file keeps at most two samples per `every_s`
of BGP time. Events are all kept.

With `views` (the BGP feed's `network_visibility`), each `bgp_visibility` sample also
records the network's peer counts and, per prefix, how many peers route it:

    bgp_peers_seeing            peers routing any of the network's prefixes
    bgp_peers_total             peers heard from
    bgp_prefix_peers:<prefix>   peers routing that prefix (whatever its origin)

At most `max_pending` rows wait in memory (the oldest are dropped beyond, counted in
`dropped`): a store that cannot write for long loses the oldest, not the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from netvigil.bgp.visibility import NetworkVisibility
from netvigil.errors import StoreError
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.signals import PREFIX_PEERS, SignalStore

__all__ = ["SignalRecorder"]

log = logging.getLogger("netvigil.signals")


class SignalRecorder:
    """Keeps signal samples and events in a SignalStore; see the module docstring."""

    def __init__(
        self,
        store: SignalStore,
        *,
        views: Callable[[str], NetworkVisibility | None] | None = None,
        every_s: float = 10.0,
        flush_s: float = 2.0,
        max_pending: int = 100_000,
    ) -> None:
        self.store = store
        self.views = views
        self.every_s = every_s
        self.flush_s = flush_s
        self.max_pending = max_pending
        self.dropped = 0
        """Rows dropped because too many waited (the store could not keep up)."""
        self.written = 0
        """Rows the store took as new."""
        self._lock = threading.Lock()
        self._samples: list[SignalSample] = []
        self._events: list[SignalEvent] = []
        self._held: dict[tuple[str, str], SignalSample] = {}
        self._kept_t: dict[tuple[str, str], float] = {}

    # -- SignalSink ----------------------------------------------------------------------

    def sample(self, sample: SignalSample) -> None:
        """Keep `sample` (thinned), with the network's counts when it is a visibility."""
        derived = self._counts(sample) if sample.signal == "bgp_visibility" else []
        with self._lock:
            for s in (sample, *derived):
                self._keep(s)
            self._bound()

    def event(self, event: SignalEvent) -> None:
        """Keep `event`."""
        with self._lock:
            self._events.append(event)
            self._bound()

    # -- writing -------------------------------------------------------------------------

    async def flush(self) -> int:
        """Write what gathered (and the held newest samples); how many rows were new.

        A failed write is logged and its rows dropped (counted): the store says why.
        """
        with self._lock:
            samples, events = self._samples, self._events
            samples += self._held.values()
            for key, s in self._held.items():
                self._kept_t[key] = max(s.t, self._kept_t.get(key, s.t))
            self._samples, self._events, self._held = [], [], {}
        if not samples and not events:
            return 0
        try:
            new = await self.store.add_signals(samples, events)
        except StoreError as exc:
            self.dropped += len(samples) + len(events)
            log.warning("signals not stored (%d dropped): %s", len(samples) + len(events), exc)
            return 0
        self.written += new
        return new

    async def run(self, stop: asyncio.Event) -> None:
        """Write every `flush_s` until `stop` is set, then write what is left."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.flush_s)
            await self.flush()
        await self.flush()  # what came while the last write ran

    # -- inside --------------------------------------------------------------------------

    def _keep(self, sample: SignalSample) -> None:
        key = (sample.entity, sample.signal)
        kept = self._kept_t.get(key)
        if kept is None or sample.t >= kept + self.every_s:
            held = self._held.pop(key, None)
            if held is not None:  # the spell's last value, before this one moves on
                self._samples.append(held)
            self._samples.append(sample)
            self._kept_t[key] = sample.t
        elif sample.t >= kept:
            self._held[key] = sample

    def _counts(self, sample: SignalSample) -> list[SignalSample]:
        """The peer counts of the network a visibility sample is about (none without views)."""
        if self.views is None:
            return []
        seen = self.views(sample.entity)
        if seen is None:
            return []
        e, t, src = sample.entity, sample.t, sample.source
        out = [
            SignalSample(e, "bgp_peers_seeing", t, float(seen.peers_seeing), src),
            SignalSample(e, "bgp_peers_total", t, float(seen.peers_total), src),
        ]
        out += [
            SignalSample(e, f"{PREFIX_PEERS}{p.prefix}", t, float(p.peers), src)
            for p in seen.prefixes
        ]
        return out

    def _bound(self) -> None:
        over = len(self._samples) + len(self._events) - self.max_pending
        if over <= 0:
            return
        cut = min(over, len(self._samples))
        del self._samples[:cut]
        del self._events[: over - cut]
        self.dropped += over
