"""The evidence builder: per-path histories, and from them the evidence window of one
incident (the features and facts rules read; `netvigil.evidence`).

It keeps one bounded `PathHistory` per path, fed in stream order, and builds a window on
demand: which paths speak for the incident, how each vantage fares, what the incident
spans (`ScopeFacts`), which neighbours on its networks and which services of its
organizations elsewhere still answer. When a network-plane source is set
(`network_plane`, e.g. the live signal sink), its facts about the incident's networks go
into the window too; without one the window is exactly the probes' view.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import islice
from typing import Protocol

from netvigil.classify.rules.plane import blackholed_addresses, parse_addresses
from netvigil.detect.baseline import AnomalyDetector
from netvigil.detect.book import Tracked
from netvigil.detect.features import FeatureSettings, PathHistory, compute_features
from netvigil.detect.sample import OK, SCORE, TS
from netvigil.detect.siblings import siblings_latency_ratio
from netvigil.detect.targets import TargetIndex
from netvigil.evidence import (
    EvidenceWindow,
    NetworkPlaneFacts,
    OrgPeer,
    ScopeFacts,
    VantageFacts,
)
from netvigil.incident import Incident
from netvigil.model import Measurement
from netvigil.state.health import HealthState
from netvigil.state.judge import TargetView
from netvigil.state.paths import PathTable

__all__ = [
    "ANSWERING_SHARE",
    "FIRST_ROUND_MIN",
    "FIRST_ROUND_SHARE",
    "USUAL_SCORE",
    "EvidenceBuilder",
    "NetworkPlaneSource",
]

ANSWERING_SHARE = 0.75
"""The share of an incident's paths whose latest probe answered from which it looks like a
recovery (`answering_as_usual`); a flood that drops packets leaves about half answering."""
FIRST_ROUND_SHARE = 0.25
"""The share of an incident's paths whose latest probes, the newest of all, answered at
their usual time after every failure, from which it looks like a recovery in its first
round of probes (`answering_as_usual`)."""
FIRST_ROUND_MIN = 3
"""... and at least this many of them (a flood's answers come in runs of one or two)."""

USUAL_SCORE = 0.5
"""An answer's latency anomaly score (`detect.baseline`, in [0, 1]) below which it came at
its path's usual time: within the tail the path's latency usually has."""


class NetworkPlaneSource(Protocol):
    """Where the network plane's facts about networks come from (the live signal sink)."""

    def facts(
        self, networks: Sequence[str], *, onset: float, now: float
    ) -> NetworkPlaneFacts | None:
        """The facts about `networks` around `onset`, as of `now`; None when nothing is known.

        Called with the detector's state lock held: must not take that lock."""
        ...


class EvidenceBuilder:
    """Histories of every path, and evidence windows built from them."""

    def __init__(
        self,
        index: TargetIndex,
        paths: PathTable,
        settings: FeatureSettings,
        *,
        weights: Mapping[str, float],
        country: Mapping[str, str | None],
        anomaly_detector: type[AnomalyDetector] | None = None,
    ) -> None:
        self.index = index
        self.paths = paths
        self.settings = settings
        self.weights = weights
        self.country = country
        self._anomaly_detector = anomaly_detector
        self._histories: dict[tuple[str, str], PathHistory] = {}
        self.network_plane: NetworkPlaneSource | None = None
        """The source of network-plane facts, or None (no signals: the probes' view only)."""

    def observe(self, m: Measurement) -> None:
        """Add one measurement to its path's history (stream order)."""
        key = (m.target, m.vantage)
        history = self._histories.get(key)
        if history is None:
            factory = self._anomaly_detector
            history = PathHistory(self.settings, factory() if factory is not None else None)
            self._histories[key] = history
        history.observe(m)

    def forget(self, targets: Collection[str]) -> None:
        """Drop the histories of every path to `targets`."""
        gone = set(targets)
        for key in [k for k in self._histories if k[0] in gone]:
            del self._histories[key]

    def history(self, target: str, vantage: str) -> PathHistory:
        """The history of a path that has data."""
        return self._histories[(target, vantage)]

    def window(
        self,
        tracked: Tracked,
        *,
        now: float,
        views: Mapping[str, TargetView],
        maintenance: str | None,
    ) -> EvidenceWindow:
        """The evidence window of `tracked`'s incident at `now`."""
        inc = tracked.incident
        members = list(inc.targets)
        histories, path_onsets, vantages = self._paths_and_vantages(tracked, views)
        services = sorted(inc.services)
        service_onsets: dict[str, float] = {}
        for t, (ts, _) in tracked.onsets.items():
            svc = self.index[t].service or t
            if svc not in service_onsets or ts < service_onsets[svc]:
                service_onsets[svc] = ts
        cohosted = sorted(
            {s for n in inc.networks for s in self.index.network_services.get(n, ())}
            - set(services)
        )
        cohosted_up = [s for s in cohosted if self._service_up(s)]
        org_peers = self._org_peers(inc)
        interval = self.index.interval(members) if members else 60.0
        scope = replace(
            self._scope(inc, vantages, services, service_onsets, cohosted, cohosted_up, org_peers),
            maintenance=1.0 if maintenance is not None else 0.0,
            interval_s=interval,
            siblings_latency_ratio=self._siblings_latency(
                inc, now - self.settings.recent_intervals * interval
            ),
        )
        features, outcomes, class_vantages = compute_features(
            histories,
            onset=inc.start,
            now=now,
            settings=self.settings,
            recent_s=self.settings.recent_intervals * interval,
            scope=scope,
            path_onsets=path_onsets,
        )
        plane = self._network_plane(inc, now)
        return EvidenceWindow(
            now=now,
            onset=inc.start,
            features=features,
            services=services,
            targets=sorted(members),
            networks=sorted(inc.networks),
            organizations=sorted(inc.organizations),
            vantages=vantages,
            outcomes=outcomes,
            class_vantages=class_vantages,
            service_onsets=service_onsets,
            cohosted_up=cohosted_up,
            cohosted_total=len(cohosted),
            org_peers=org_peers,
            vantage_incident=inc.vantage is not None,
            maintenance=maintenance,
            weights=self.weights,
            network_plane=plane,
            # read only by the blackhole rules: none to read without a blackhole
            addresses=self.addresses_of(inc.targets) if plane and plane.blackholes else frozenset(),
        )

    def addresses_of(self, targets: Iterable[str]) -> frozenset[str]:
        """Where `targets` were last probed, from every vantage."""
        paths = self.paths
        return frozenset(
            r.address
            for t in targets
            for v in paths.vantages_of(t)
            if (r := paths.get(t, v)) is not None and r.address
        )

    def answering_as_usual(self, inc: Incident) -> bool:
        """Whether `inc`'s paths (from its vantages, not impaired) look like a recovery by
        their latest probes: `ANSWERING_SHARE` of them answered, most at their usual time
        (an anomaly score below `USUAL_SCORE`); or, while the first round after it is
        still under way, the newest of them answered at their usual time, after every
        failure (`FIRST_ROUND_SHARE` of the paths, at least `FIRST_ROUND_MIN`). A flood
        that drops packets interleaves answers and failures, one that fills queues answers
        slowly, and the few probes that pass a cut are few: none of them is taken for a
        recovery. Looks at `max_paths` paths at most."""
        impaired = self.paths.impaired
        vantages = [v for v in inc.vantages if v not in impaired]
        found = (self._histories.get((t, v)) for t in inc.targets for v in vantages)
        newest = (h.samples[-1] for h in found if h is not None and h.samples)
        held = islice(newest, self.settings.max_paths)
        latest = [(s[TS], s[OK], s[OK] and s[SCORE] < USUAL_SCORE) for s in held]
        paths = len(latest)
        answered = sum(1 for _, ok, _ in latest if ok)
        usual = sum(1 for _, _, quick in latest if quick)
        if answered and answered >= ANSWERING_SHARE * paths and 2 * usual > answered:
            return True
        newest_failure = max((ts for ts, ok, _ in latest if not ok), default=float("-inf"))
        after = sum(1 for ts, _, quick in latest if quick and ts > newest_failure)
        return after >= max(FIRST_ROUND_MIN, FIRST_ROUND_SHARE * paths)

    def blackholed_apart(self, inc: Incident, target: str, now: float) -> bool:
        """Whether `inc` is the blackholing of addresses (RTBH: a blackhole community on
        its targets' single addresses) that `target`'s addresses are not among: a failure
        of one address says nothing of another's, so `target` fails on its own."""
        facts = self._network_plane(inc, now)
        if facts is None or not facts.blackholes:
            return False
        holed = blackholed_addresses(facts.blackholes)
        mine = parse_addresses(self.addresses_of(inc.targets))
        theirs = parse_addresses(self.addresses_of([target]))
        return bool(holed & mine) and bool(theirs) and not holed & theirs

    def routed_anew(self, inc: Incident, target: str, since: float, now: float) -> bool:
        """Whether the routing of `target`'s network changed since `since`: its incident's
        networks' routes withdrawn at `since` or later, or one of its addresses
        blackholed, or routes withdrawn earlier in the incident now seen again as widely
        as before. Asked when `target` fails again after every target of `inc` had
        recovered (at `since`): a failure that follows a new routing event is a new one,
        however much it looks like the old (a withdrawal and a blackhole both leave the
        probes unanswered, like the cut before them), and so is one that comes while the
        routes whose loss explained the old failure are back."""
        facts = self._network_plane(inc, now)
        if facts is None:
            return False
        if any(e.t >= since for e in facts.route_withdrawals) or facts.routes_back:
            return True
        holed = blackholed_addresses(e for e in facts.blackholes if e.t >= since)
        return bool(holed) and bool(holed & parse_addresses(self.addresses_of([target])))

    def _network_plane(self, inc: Incident, now: float) -> NetworkPlaneFacts | None:
        source = self.network_plane
        if source is None or not inc.networks or inc.vantage is not None:
            return None
        return source.facts(sorted(inc.networks), onset=inc.start, now=now)

    def _paths_and_vantages(
        self, tracked: Tracked, views: Mapping[str, TargetView]
    ) -> tuple[list[tuple[str, PathHistory]], list[float], list[VantageFacts]]:
        """The histories that speak for the incident (with each one's onset), and the facts
        of every vantage about the incident's targets."""
        inc = tracked.incident
        impaired = self.paths.impaired
        # A vantage in trouble since the window before the onset began speaks for no
        # window of this incident: its failures then were its own, not the targets'.
        troubled_since = inc.start - self.settings.pre_s
        cleared = self.paths.impaired_until
        histories: list[tuple[str, PathHistory]] = []
        path_onsets: list[float] = []
        member_down: dict[str, int] = {}
        member_total: dict[str, int] = {}
        member_ok: dict[str, int] = {}
        for t in inc.targets:
            tview = views.get(t)
            down_from = tview.down if tview is not None else ()
            for v in self.paths.vantages_of(t):
                p = self.paths.health(t, v)
                if not p.has_data:
                    continue
                member_total[v] = member_total.get(v, 0) + 1
                if p.state is HealthState.DOWN or v in down_from:
                    member_down[v] = member_down.get(v, 0) + 1
                elif p.state is HealthState.OK:
                    member_ok[v] = member_ok.get(v, 0) + 1
                if inc.vantage is not None:
                    use = v == inc.vantage
                else:
                    use = (
                        v not in impaired
                        and v in inc.vantages
                        and cleared.get(v, troubled_since) <= troubled_since
                    )
                if use:
                    histories.append((v, self._histories[(t, v)]))
                    path_onsets.append(tracked.onsets.get(t, (inc.start, None))[0])
        vantages = [
            VantageFacts(
                name=v,
                country=self.country.get(v),
                in_country=self.paths.in_country.get(v, False),
                failing=member_down.get(v, 0) > 0,
                impaired=v in impaired,
                controls_down=c.controls_down,
                controls_total=c.controls,
                paths_down=c.down,
                paths_total=c.paths,
                members_down=member_down.get(v, 0),
                members_total=member_total.get(v, 0),
                members_ok=member_ok.get(v, 0),
            )
            for v, c in sorted(self.paths.counts.items())
        ]
        cap = self.settings.max_paths
        if len(histories) > cap:
            step = len(histories) / cap
            keep = [int(i * step) for i in range(cap)]
            histories = [histories[i] for i in keep]
            path_onsets = [path_onsets[i] for i in keep]
        return histories, path_onsets, vantages

    def _scope(
        self,
        inc: Incident,
        vantages: list[VantageFacts],
        services: list[str],
        service_onsets: dict[str, float],
        cohosted: list[str],
        cohosted_up: list[str],
        org_peers: list[OrgPeer],
    ) -> ScopeFacts:
        failing = [v for v in vantages if v.failing and not v.impaired]
        inside = [v for v in vantages if v.in_country and not v.impaired and v.members_total]
        abroad = [v for v in vantages if not v.in_country and not v.impaired and v.members_total]
        controls_total = sum(v.controls_total for v in vantages if v.failing)
        controls_down = sum(v.controls_down for v in vantages if v.failing)
        on_networks = len(cohosted) + len([s for s in services if self.index.network_of(s)])
        onsets = service_onsets.values()
        return ScopeFacts(
            n_targets=float(len(inc.targets)),
            n_services=float(len(services)),
            n_networks=float(len(inc.networks)),
            n_vantages_failing=float(len(failing)),
            n_countries_failing=float(len({v.country for v in failing if v.country})),
            onset_spread_s=float(max(onsets) - min(onsets)) if service_onsets else 0.0,
            network_scope=len(services) / on_networks if on_networks else -1.0,
            cohosted_up=float(len(cohosted_up)),
            org_elsewhere_up=float(
                sum(1 for p in org_peers if p.probes and p.ok_probes == p.probes)
            ),
            in_country_fail_frac=sum(v.failing for v in inside) / len(inside) if inside else -1.0,
            abroad_fail_frac=sum(v.failing for v in abroad) / len(abroad) if abroad else -1.0,
            impaired_vantages=float(len(self.paths.impaired)),
            controls_fail_frac=controls_down / controls_total if controls_total else -1.0,
        )

    def _siblings_latency(self, inc: Incident, recent_from: float) -> float:
        """How much slower the other targets of `inc`'s services and networks answer
        (`siblings.siblings_latency_ratio`); -1 for a vantage's incident."""
        if inc.vantage is not None:
            return -1.0
        services = {*inc.services}
        for n in inc.networks:
            services.update(self.index.network_services.get(n, ()))
        members = set(inc.targets)
        impaired = self.paths.impaired
        paths = [
            (t, v)
            for svc in sorted(services)
            for t in self.index.service_targets.get(svc, ())
            if t not in members
            for v in self.paths.vantages_of(t)
            if v not in impaired
        ]
        return siblings_latency_ratio(
            paths,
            lambda t, v: self._histories.get((t, v)),
            onset=inc.start,
            recent_from=recent_from,
        )

    def _service_up(self, service: str) -> bool:
        """Whether every path to the service is in good health (no recent failure at all):
        a neighbour whose probes have just started failing is not evidence that it stays up."""
        impaired = self.paths.impaired
        for t in self.index.service_targets.get(service, ()):
            for v in self.paths.vantages_of(t):
                if v not in impaired and self.paths.health(t, v).state is not HealthState.OK:
                    return False
        return True

    def _org_peers(self, inc: Incident) -> list[OrgPeer]:
        peers: list[OrgPeer] = []
        impaired = self.paths.impaired
        for org in inc.organizations:
            for svc in self.index.org_services.get(org, ()):
                network = self.index.network_of(svc)
                if svc in inc.services or (network is not None and network in inc.networks):
                    continue
                ok = total = 0
                for t in self.index.service_targets.get(svc, ()):
                    for v in self.paths.vantages_of(t):
                        if v in impaired:
                            continue
                        for s in self._histories[(t, v)].since(inc.start):
                            total += 1
                            ok += s.ok
                peers.append(OrgPeer(svc, network, ok, total))
        return sorted(peers, key=lambda p: (-(p.probes > 0 and p.ok_probes == p.probes), p.service))
