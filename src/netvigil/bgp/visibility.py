"""Prefix visibility: which collector peers route each watched prefix, and what changed.

    visibility = PrefixVisibility(config.networks, sink, source="ris_live")
    visibility.update(element)      # for every BgpElement and PeerState, in time order
    visibility.flush(now)           # now and then: hands on what is due
    visibility.reconfigure(networks)   # a config reload: the networks watched from now on

A network's prefixes are its configured ones and any more-specific of them; a network
with an `asn` also claims any prefix announced with that AS as origin. For each such
prefix it keeps, per collector peer (collector, peer IP), the route the peer has: AS
path, origins, communities. From that it hands the sink:

- `SignalSample(entity=network, signal="bgp_visibility")`: for each of the network's
  prefixes with anything known (a configured prefix counts its more-specifics), the
  share of the peers carrying its address family that route it (with the network's own
  AS as origin, when it has one), averaged over those prefixes. The peers carrying a
  family are those heard announcing or withdrawing a prefix of that family in the last
  `window_s`, plus any peer still holding a route of it: a collector's IPv6 sessions do
  not count against an IPv4 prefix. A `connected` peer state keeps a peer heard in the
  families it already carries; a `down` state drops the peer and its routes. At most one
  sample per network per `sample_every_s`, and with `resample_s` one at least that often
  while nothing changes (so a detector's baseline fills on a quiet feed); none while no
  route of the network has been seen (a RIS Live stream says only what changes: a prefix
  nobody spoke of is unknown, not invisible).
- `SignalEvent`s, each gathered over `hold_s` so a burst is one event: `withdrawal`
  (withdrawn by N of M peers), `announcement` (newly routed by N peers), `path_change`,
  `origin_change` (an origin other than the network's AS, or than the other peers see
  when it has none) and `blackhole` (the RFC 7999 community 65535:666). "Of M peers"
  counts the peers carrying the prefix's family.

Times are the elements' own, so an MRT file replays as it happened.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network

from netvigil.bgp.model import BLACKHOLE_COMMUNITY, BgpElement, BgpItem, PeerKey, PeerState
from netvigil.bgp.prefixes import PrefixIndex
from netvigil.bgp.views import NetworkVisibility, PrefixView
from netvigil.config.model import NetworkConfig
from netvigil.signal import SignalEvent, SignalEventKind, SignalSample, SignalSink

__all__ = ["NetworkVisibility", "PrefixView", "PrefixVisibility"]

IPNetwork = IPv4Network | IPv6Network
Family = int
"""An address family: 4 or 6."""


def _family(prefix: str) -> Family:
    return 6 if ":" in prefix else 4


@dataclass(frozen=True, slots=True)
class _Route:
    as_path: tuple[int, ...]
    origins: tuple[int, ...]
    communities: tuple[str, ...]
    since: float


@dataclass(slots=True)
class _Watch:
    """One watched network: its configured prefixes, its AS, the prefixes it claims."""

    name: str
    asn: int | None
    configured: tuple[IPNetwork, ...]
    units: dict[str, set[str]] = field(default_factory=dict)
    """Visibility unit (a configured prefix, or a prefix claimed by origin) -> prefixes in it."""


@dataclass(slots=True)
class _Pending:
    first_t: float
    peers: set[PeerKey]
    detail: str


class PrefixVisibility:
    """Per-prefix routes of the watched networks, turned into samples and events.

    `window_s`: how long a peer counts as heard from after its last word;
    `sample_every_s`: the least time between two samples of one network; `resample_s`:
    the most time between two samples of a network with a known visibility, as `flush`
    and `update` see time pass (None: samples only on a change; at most one per network
    per call); `hold_s`: how long events of one kind about one prefix are gathered into one.
    """

    def __init__(
        self,
        networks: Iterable[NetworkConfig],
        sink: SignalSink,
        *,
        source: str = "",
        window_s: float = 3600.0,
        sample_every_s: float = 1.0,
        resample_s: float | None = None,
        hold_s: float = 1.0,
    ) -> None:
        if resample_s is not None and resample_s < sample_every_s:
            raise ValueError("resample_s must be at least sample_every_s")
        self.sink = sink
        self.source = source
        self.window_s = window_s
        self.sample_every_s = sample_every_s
        self.resample_s = resample_s
        self.hold_s = hold_s
        self._watches: dict[str, _Watch] = {}
        self._by_asn: dict[int, list[_Watch]] = {}
        self._index: PrefixIndex[tuple[_Watch, str]] = PrefixIndex(())
        self._covered: dict[str, tuple[tuple[_Watch, str], ...]] = {}
        self._owners: dict[str, dict[str, str]] = {}  # prefix -> {network: unit}
        self._watch(networks)
        self._routes: dict[str, dict[PeerKey, _Route]] = {}
        self._heard: dict[PeerKey, float] = {}  # any word, any family
        self._carries: dict[Family, dict[PeerKey, float]] = {4: {}, 6: {}}  # heard, per family
        self._holds: dict[Family, Counter[PeerKey]] = {4: Counter(), 6: Counter()}
        """Routes held, per family and peer holding any."""
        self._next_prune = float("-inf")
        self._pending: dict[tuple[str, str, SignalEventKind], _Pending] = {}
        self._queue: list[tuple[float, int, tuple[str, str, SignalEventKind]]] = []  # by due
        self._order = itertools.count()
        self._dirty: set[str] = set()
        self._last_sample: dict[str, float] = {}
        self._resample_at = float("inf")
        self._due = float("inf")
        self.latest = 0.0
        """The newest element time seen."""

    @property
    def networks(self) -> list[str]:
        """The watched networks (those with prefixes or an AS)."""
        return list(self._watches)

    def _watch(self, networks: Iterable[NetworkConfig]) -> None:
        """Watch `networks` (those with prefixes or an AS): their prefixes and ASes indexed."""
        self._watches = {
            n.name: _Watch(n.name, n.asn, tuple(n.prefixes))
            for n in networks
            if n.prefixes or n.asn is not None
        }
        self._by_asn = {}
        for watch in self._watches.values():
            if watch.asn is not None:
                self._by_asn.setdefault(watch.asn, []).append(watch)
        self._index = PrefixIndex(
            (net, (watch, str(net))) for watch in self._watches.values() for net in watch.configured
        )
        self._covered = {}
        self._owners = {}

    def reconfigure(self, networks: Iterable[NetworkConfig]) -> None:
        """Watch `networks` from now on (a reloaded config). Routes to prefixes still
        watched are kept and count for the networks now claiming them: by prefix, by an
        origin among their routes, or as claimed before by a network whose AS is the same.
        Routes to prefixes no longer watched are forgotten, and so are the samples and
        gathered events of networks removed. Each network watched is sampled again."""
        before, claims = {w.name: w.asn for w in self._watches.values()}, self._owners
        self._watch(networks)
        for prefix in self._routes.keys() | claims.keys():
            routes = self._routes.get(prefix, {})
            owners = {watch.name: unit for watch, unit in self._covered_by(prefix)}
            for asn in {a for route in routes.values() for a in route.origins}:
                for watch in self._by_asn.get(asn, ()):
                    owners.setdefault(watch.name, prefix)
            for name, unit in claims.get(prefix, {}).items():
                same = self._watches[name].asn if name in self._watches else None
                if unit == prefix and same is not None and same == before[name]:
                    owners.setdefault(name, prefix)
            if owners:
                self._track(prefix, owners)
            elif self._routes.pop(prefix, None) is not None:
                for peer in routes:
                    self._release(peer, _family(prefix))
        for name in before.keys() - self._watches.keys():
            self._last_sample.pop(name, None)
            self._dirty.discard(name)
        self._pending = {k: p for k, p in self._pending.items() if k[0] in self._watches}
        self._queue = [entry for entry in self._queue if entry[2] in self._pending]
        heapq.heapify(self._queue)
        for watch in self._watches.values():
            if watch.units:
                self._mark(watch.name)

    def update(self, item: BgpItem) -> None:
        """Take one element or peer state (in time order) and hand on what became due."""
        t = item.time
        if t > self.latest:
            self.latest = t
        if isinstance(item, PeerState):
            self._peer_state(item)
        else:
            self._element(item)
        if t >= self._due:
            self.flush(t)

    def flush(self, t: float) -> None:
        """Hand the sink every gathered event and sample due by `t`."""
        queue = self._queue
        totals: dict[Family, int] = {}
        while queue and queue[0][0] <= t:
            _, _, key = heapq.heappop(queue)
            pending = self._pending.pop(key)
            family = _family(key[1])
            total = totals.get(family)
            if total is None:
                total = totals[family] = self.peers_total(t, family)
            self._emit(key, pending, total)
        if t >= self._resample_at:
            self._resample(t)
        due = min(queue[0][0] if queue else float("inf"), self._resample_at)
        for name in list(self._dirty):
            next_at = self._last_sample.get(name, float("-inf")) + self.sample_every_s
            if next_at <= t:
                self._dirty.discard(name)
                self._sample(name, t)
            else:
                due = min(due, next_at)
        self._due = due

    def peers_total(self, t: float, family: Family | None = None) -> int:
        """Peers heard from in the `window_s` before `t`, and peers still holding a route;
        with `family` (4 or 6), only those carrying that address family."""
        if t >= self._next_prune:  # forget the silent peers now and then, not at every call
            cutoff = t - self.window_s
            for heard in (self._heard, *self._carries.values()):
                for peer in [p for p, last in heard.items() if last < cutoff]:
                    del heard[peer]
            self._next_prune = t + self.window_s / 16
        if family is not None:
            heard, holds = self._carries[family], self._holds[family]
            return len(heard) + sum(1 for peer in holds if peer not in heard)
        heard = self._heard
        holders = self._holds[4].keys() | self._holds[6].keys()
        return len(heard) + sum(1 for peer in holders if peer not in heard)

    def _family_peers(self, families: set[Family]) -> int:
        """Peers carrying any of `families` (call `peers_total` first: it prunes)."""
        if len(families) == 1:
            [family] = families
            heard, holds = self._carries[family], self._holds[family]
            return len(heard) + sum(1 for peer in holds if peer not in heard)
        peers: set[PeerKey] = set()
        for family in families:
            peers.update(self._carries[family], self._holds[family])
        return len(peers)

    def visibility(
        self, network: str, t: float | None = None, *, with_prefixes: bool = True
    ) -> NetworkVisibility | None:
        """`network`'s visibility at `t` (default: the newest element time), with each
        prefix's view unless `with_prefixes` is False; None when it is not watched."""
        watch = self._watches.get(network)
        if watch is None:
            return None
        t = self.latest if t is None else t
        totals = {family: self.peers_total(t, family) for family in (4, 6)}
        shares: list[float] = []
        seeing_any: set[PeerKey] = set()
        views: list[PrefixView] = []
        families: set[Family] = set()
        for unit, prefixes in watch.units.items():
            seeing: set[PeerKey] = set()
            for prefix in prefixes:
                routes = self._routes.get(prefix, {})
                seeing.update(p for p, r in routes.items() if _legit(r, watch.asn))
                if with_prefixes:
                    views.append(_view(prefix, routes))
            seeing_any |= seeing
            family = _family(unit)
            families.add(family)
            if totals[family]:
                shares.append(min(1.0, len(seeing) / totals[family]))
        value = sum(shares) / len(shares) if shares else None
        views.sort(key=lambda v: v.prefix)
        total = self._family_peers(families) if families else 0
        return NetworkVisibility(network, t, value, len(seeing_any), total, tuple(views))

    def _element(self, element: BgpElement) -> None:
        peer = element.peer
        prefix = element.prefix
        family = _family(prefix)
        carries = self._carries[family]
        if peer not in carries:
            self._total_changed()
        carries[peer] = element.time
        self._heard[peer] = element.time
        owners = self._owners_of(element)
        if not owners:
            return
        routes = self._routes.setdefault(prefix, {})
        old = routes.get(peer)
        if element.kind == "withdraw":
            if old is None:
                return  # a withdrawal of a route the peer did not have
            del routes[peer]
            self._release(peer, family)
            self._changed(owners, prefix, "withdrawal", element.time, peer)
            return
        new = _Route(element.as_path, element.origin_asns, element.communities, element.time)
        routes[peer] = new
        if old is None:
            self._holds[family][peer] += 1
            self._changed(owners, prefix, "announcement", element.time, peer)
        elif old.as_path != new.as_path:
            self._changed(owners, prefix, "path_change", element.time, peer)
        for network in owners:
            self._check_origin(self._watches[network], prefix, routes, peer, new)
        if BLACKHOLE_COMMUNITY in new.communities and (
            old is None or BLACKHOLE_COMMUNITY not in old.communities
        ):
            self._changed(owners, prefix, "blackhole", element.time, peer)

    def _peer_state(self, state: PeerState) -> None:
        peer = state.peer
        if state.is_up:
            self._heard[peer] = state.time
            for carries in self._carries.values():
                if peer in carries:  # still there, in the families it carries
                    carries[peer] = state.time
            return
        self._heard.pop(peer, None)
        dropped = [carries.pop(peer, None) for carries in self._carries.values()]
        if any(last is not None for last in dropped):
            self._total_changed()
        for prefix, routes in self._routes.items():
            if routes.pop(peer, None) is not None:
                self._release(peer, _family(prefix))
                self._changed(self._owners.get(prefix, {}), prefix, "withdrawal", state.time, peer)

    def _release(self, peer: PeerKey, family: Family) -> None:
        """`peer` holds one route of `family` fewer."""
        holds = self._holds[family]
        left = holds[peer] - 1
        if left > 0:
            holds[peer] = left
        else:
            del holds[peer]

    def _resample(self, t: float) -> None:
        """Mark for a sample each network not sampled for `resample_s` (the `flush` at
        `t` samples it); find when the next one is due."""
        assert self.resample_s is not None
        next_at = float("inf")
        for name, last in self._last_sample.items():
            at = last + self.resample_s
            if at <= t:
                self._dirty.add(name)
                at = t + self.resample_s
            next_at = min(next_at, at)
        self._resample_at = next_at

    def _total_changed(self) -> None:
        """A peer joined or left the total: every network with something known is resampled."""
        for watch in self._watches.values():
            if watch.units:
                self._mark(watch.name)

    def _mark(self, network: str) -> None:
        self._dirty.add(network)
        next_at = self._last_sample.get(network, float("-inf")) + self.sample_every_s
        self._due = min(self._due, next_at)

    def _owners_of(self, element: BgpElement) -> dict[str, str]:
        """The networks `element`'s prefix belongs to, each with its visibility unit."""
        prefix = element.prefix
        owners = self._owners.get(prefix)
        if owners is None:
            covered = self._covered_by(prefix)
            owners = {watch.name: unit for watch, unit in covered}
            if owners:
                self._track(prefix, owners)
        if element.kind == "announce" and self._by_asn:
            # A network known by its AS alone claims what its AS originates; one with
            # configured prefixes does not: a prefix it originates for a while (a
            # scrubbing service taking a customer's prefix in) is not its address space,
            # and its withdrawal afterwards is no loss of the network's visibility.
            for asn in element.origin_asns:
                for watch in self._by_asn.get(asn, ()):
                    if watch.name not in owners and not watch.configured:
                        owners = {**owners, watch.name: prefix}
                        self._track(prefix, owners)
        return owners

    def _covered_by(self, prefix: str) -> tuple[tuple[_Watch, str], ...]:
        found = self._covered.get(prefix)
        if found is None:
            found = tuple(self._index.covering(prefix))
            if len(self._covered) < 1_000_000:  # the cache of a full table, at most
                self._covered[prefix] = found
        return found

    def _track(self, prefix: str, owners: dict[str, str]) -> None:
        self._owners[prefix] = owners
        for network, unit in owners.items():
            self._watches[network].units.setdefault(unit, set()).add(prefix)

    def _check_origin(
        self, watch: _Watch, prefix: str, routes: dict[PeerKey, _Route], peer: PeerKey, new: _Route
    ) -> None:
        if not new.origins:
            return
        if watch.asn is not None:
            if watch.asn in new.origins:
                return
            expected = f"AS{watch.asn}"
        else:
            others = {a for p, r in routes.items() if p != peer for a in r.origins}
            if not others or others.intersection(new.origins):
                return
            expected = "/".join(f"AS{a}" for a in sorted(others))
        origin = "/".join(f"AS{a}" for a in new.origins)
        detail = f"origin {origin} where {expected} was expected"
        self._pend(watch.name, prefix, "origin_change", new.since, peer, detail)

    def _changed(
        self, owners: dict[str, str], prefix: str, kind: SignalEventKind, t: float, peer: PeerKey
    ) -> None:
        for network in owners:
            self._pend(network, prefix, kind, t, peer, "")
            self._mark(network)

    def _pend(
        self, network: str, prefix: str, kind: SignalEventKind, t: float, peer: PeerKey, detail: str
    ) -> None:
        key = (network, prefix, kind)
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = _Pending(t, {peer}, detail)
            heapq.heappush(self._queue, (t + self.hold_s, next(self._order), key))
            self._due = min(self._due, t + self.hold_s)
        else:
            pending.peers.add(peer)
            pending.detail = detail or pending.detail

    def _emit(self, key: tuple[str, str, SignalEventKind], pending: _Pending, total: int) -> None:
        network, prefix, kind = key
        n = len(pending.peers)
        routing = len(self._routes.get(prefix, {}))
        words = {
            "withdrawal": f"withdrawn by {n} of {total} peers; {routing} still route it",
            "announcement": f"announced by {n} peers; {routing} of {total} route it",
            "path_change": f"new AS path at {n} peers",
            "blackhole": f"blackhole community {BLACKHOLE_COMMUNITY} from {n} peers",
        }
        detail = pending.detail or words.get(kind, "")
        if kind == "origin_change":
            detail = f"{detail}, seen by {n} of {total} peers"
        self.sink.event(
            SignalEvent(network, kind, pending.first_t, prefix, n, total, detail, self.source)
        )

    def _sample(self, network: str, t: float) -> None:
        seen = self.visibility(network, t, with_prefixes=False)
        if seen is None or seen.value is None:
            return
        self._last_sample[network] = t
        if self.resample_s is not None:
            self._resample_at = min(self._resample_at, t + self.resample_s)
        self.sink.sample(SignalSample(network, "bgp_visibility", t, seen.value, self.source))


def _legit(route: _Route, asn: int | None) -> bool:
    """Whether a route counts toward visibility: any route, or one with the network's AS
    among its origins when the network has an AS."""
    return asn is None or asn in route.origins or not route.origins


def _view(prefix: str, routes: dict[PeerKey, _Route]) -> PrefixView:
    origins: Counter[int] = Counter(a for r in routes.values() for a in r.origins)
    paths: Counter[tuple[int, ...]] = Counter(r.as_path for r in routes.values())
    blackholed = sum(1 for r in routes.values() if BLACKHOLE_COMMUNITY in r.communities)
    path = paths.most_common(1)[0][0] if paths else ()
    return PrefixView(prefix, len(routes), dict(origins), path, blackholed)
