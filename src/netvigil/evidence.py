"""What attribution reads: an incident's feature vector and the facts rules cite.

`detect.features` computes them from per-path history; `classify` rules read them; an
incident keeps its `Features` so a learned model can be trained on them later. Beside
the probes' view, `NetworkPlaneFacts` says what the control plane (BGP) and the data
plane (address blocks answering) show for the incident's networks, when signals exist.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from netvigil.signal import SignalEvent

__all__ = [
    "EvidenceWindow",
    "Features",
    "NetworkPlaneFacts",
    "OrgPeer",
    "ScopeFacts",
    "VantageFacts",
]


@dataclass(frozen=True, slots=True)
class Features:
    """The feature vector of an incident at one moment; all floats, -1 where unknown."""

    n_targets: float = 0.0
    n_services: float = 0.0
    n_networks: float = 0.0
    n_vantages_failing: float = 0.0
    n_countries_failing: float = 0.0
    onset_spread_s: float = 0.0
    abruptness: float = -1.0
    slow_last: float = -1.0
    """Of the last probes before the onset, the share that answered slower than twice
    their path's usual latency (a flood's queue before the loss)."""
    loss_pre: float = -1.0
    """The share of the pre window's probes lost (unanswered in time, or turned away
    overloaded: `path_summary.LOST`), a flood's sign; other failures are answers."""
    latency_p95_pre_s: float = -1.0
    latency_p95_base_s: float = -1.0
    latency_ratio: float = -1.0
    jitter_pre_s: float = -1.0
    jitter_base_s: float = -1.0
    jitter_ratio: float = -1.0
    anomaly_pre: float = 0.0
    loss_post: float = 0.0
    loss_recent: float = 0.0
    loss_before_complete: float = -1.0
    complete_s: float = 0.0
    probes_complete: float = 0.0
    latency_post_ratio: float = -1.0
    flaps_post: float = 0.0
    probes_post: float = 0.0
    frac_silent: float = 0.0
    frac_refused: float = 0.0
    frac_net_unreach: float = 0.0
    frac_host_unreach: float = 0.0
    frac_prohibited: float = 0.0
    frac_http_5xx: float = 0.0
    frac_http_slow: float = 0.0
    frac_http_other: float = 0.0
    frac_dns: float = 0.0
    frac_tls: float = 0.0
    frac_other: float = 0.0
    frac_overload: float = 0.0
    connected_frac: float = 0.0
    ttfb_post_s: float = -1.0
    ttfb_base_s: float = -1.0
    ttfb_ok_post_s: float = -1.0
    ttfb_ref_s: float = -1.0
    network_scope: float = -1.0
    cohosted_up: float = 0.0
    org_elsewhere_up: float = 0.0
    in_country_fail_frac: float = -1.0
    abroad_fail_frac: float = -1.0
    impaired_vantages: float = 0.0
    controls_fail_frac: float = -1.0
    maintenance: float = 0.0
    interval_s: float = 60.0
    siblings_latency_ratio: float = -1.0
    recent_s: float = 60.0

    @property
    def steady_complete(self) -> bool:
        """Whether loss has been complete long enough to be a new regime, not bad luck.

        At least 2 probe intervals (every failing path failed at least twice in a row),
        and enough failures in a row that the loss rate before would produce them by
        chance less than 1% of the time (`loss_before ** n < 0.01`). When nothing got
        through since the onset that rate is unknown and taken as one half (7 probes).
        """
        if self.complete_s < 2 * self.interval_s or self.probes_complete <= 0:
            return False
        before = self.loss_before_complete
        if before == 0:
            return True
        if before < 0:
            before = 0.5
        return self.probes_complete >= math.log(0.01) / math.log(min(before, 0.9))

    def to_json(self) -> dict[str, float]:
        """A flat name -> value mapping."""
        return {k: round(v, 6) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Features:
        """Rebuild from `to_json()` output; unknown names are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in data.items() if k in names})


@dataclass(frozen=True, slots=True)
class ScopeFacts:
    """What an incident spans and who sees it: the features not read from path histories.

    Each field is the `Features` field of the same name.
    """

    n_targets: float = 0.0
    n_services: float = 0.0
    n_networks: float = 0.0
    n_vantages_failing: float = 0.0
    n_countries_failing: float = 0.0
    onset_spread_s: float = 0.0
    network_scope: float = -1.0
    cohosted_up: float = 0.0
    org_elsewhere_up: float = 0.0
    in_country_fail_frac: float = -1.0
    abroad_fail_frac: float = -1.0
    impaired_vantages: float = 0.0
    controls_fail_frac: float = -1.0
    maintenance: float = 0.0
    interval_s: float = 60.0
    siblings_latency_ratio: float = -1.0

    def as_features(self) -> dict[str, float]:
        """Name -> value, for `Features`."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class OrgPeer:
    """A service of an affected organization hosted on another network, and how it fared."""

    service: str
    network: str | None
    ok_probes: int
    probes: int


@dataclass(frozen=True, slots=True)
class VantageFacts:
    """One vantage as attribution sees it."""

    name: str
    country: str | None
    in_country: bool
    failing: bool
    impaired: bool
    controls_down: int
    controls_total: int
    paths_down: int
    paths_total: int
    members_down: int = 0
    """Paths to the incident's targets confirmed down from this vantage."""
    members_total: int = 0
    """Paths to the incident's targets this vantage reports on."""
    members_ok: int = 0
    """Paths to the incident's targets this vantage sees in good health (no recent failure)."""


@dataclass(frozen=True, slots=True)
class NetworkPlaneFacts:
    """What the network plane says about an incident's networks around its onset.

    Fractions are None when no signal says them. `visibility_*` is the share of route
    collector peers that see the networks' prefixes (the lowest across the networks),
    now and as its baseline before; `peers` is how many peers were heard from (0 when
    unknown). `blocks_up_*` is the share of watched address blocks that answer, of
    `blocks` watched (0 when unknown). The events are the control-plane facts since
    shortly before the onset, oldest first. `down` says the signal detector holds the
    networks down.
    """

    networks: tuple[str, ...]
    visibility_now: float | None = None
    visibility_before: float | None = None
    peers: int = 0
    blocks_up_now: float | None = None
    blocks_up_before: float | None = None
    blocks: int = 0
    withdrawals: tuple[SignalEvent, ...] = ()
    blackholes: tuple[SignalEvent, ...] = ()
    origin_changes: tuple[SignalEvent, ...] = ()
    """Origin and path changes (`origin_change`, `path_change` events)."""
    down: bool = False

    @property
    def route_withdrawals(self) -> tuple[SignalEvent, ...]:
        """The withdrawals of the networks' routes: not those of a single address (a /32
        or /128 is announced only to blackhole it, so its withdrawal ends an RTBH)."""
        return tuple(e for e in self.withdrawals if not e.host_route)

    @property
    def withdrawn_share(self) -> float:
        """The largest share of peers any one withdrawal of the networks' routes was seen
        from (0 without one)."""
        withdrawals = self.route_withdrawals
        return max(
            (e.peers / e.peers_total for e in withdrawals if e.peers_total > 0),
            default=1.0 if withdrawals else 0.0,
        )

    @property
    def routes_visible(self) -> bool:
        """Whether the routes are still seen about as widely as before (within 10%),
        with no withdrawal by most peers."""
        now, before = self.visibility_now, self.visibility_before
        if now is None or self.withdrawn_share >= 0.5:
            return False
        return now >= 0.9 * (before if before is not None else 1.0)

    @property
    def routes_back(self) -> bool:
        """Whether routes of the networks were withdrawn since shortly before the onset and
        are now seen again about as widely as before (within 10%)."""
        now, before = self.visibility_now, self.visibility_before
        if now is None or not self.route_withdrawals:
            return False
        return now >= 0.9 * (before if before is not None else 1.0)

    @property
    def blocks_dark(self) -> bool:
        """Whether at most half as many blocks answer as before."""
        now, before = self.blocks_up_now, self.blocks_up_before
        if now is None:
            return False
        return now <= 0.5 * (before if before is not None and before > 0 else 1.0)

    @property
    def data_dark(self) -> bool:
        """Whether traffic into the networks is seen dropped: at most half as many blocks
        answer as before, or, with no block watched, the signal detector holds the
        networks down (blocks that answer prove the data plane works, whatever an alarm
        raised earlier still says)."""
        if self.blocks_up_now is not None:
            return self.blocks_dark
        return self.down

    def blocks_words(self) -> str:
        """'0 of 4 blocks answer' (or '0% of blocks answer' when the count is unknown)."""
        now = self.blocks_up_now if self.blocks_up_now is not None else 0.0
        if self.blocks:
            return f"{round(now * self.blocks)} of {self.blocks} blocks answer"
        return f"{now * 100:.0f}% of blocks answer"

    def visible_words(self) -> str:
        """'routes still visible from 5 of 5 peers' (or as a share)."""
        now = self.visibility_now if self.visibility_now is not None else 0.0
        if self.peers:
            return f"routes still visible from {round(now * self.peers)} of {self.peers} peers"
        return f"routes still visible from {now * 100:.0f}% of collector peers"


@dataclass(slots=True)
class EvidenceWindow:
    """Everything a rule may read about one incident at one moment (pure data)."""

    now: float
    onset: float
    features: Features
    services: list[str]
    targets: list[str]
    networks: list[str]
    organizations: list[str]
    vantages: list[VantageFacts]
    outcomes: Counter[str]
    class_vantages: dict[str, set[str]]
    service_onsets: dict[str, float]
    cohosted_up: list[str]
    cohosted_total: int
    org_peers: list[OrgPeer]
    vantage_incident: bool = False
    maintenance: str | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    network_plane: NetworkPlaneFacts | None = None
    """The network plane's facts, when signals exist for the incident's networks."""
    addresses: frozenset[str] = frozenset()
    """The addresses the incident's targets were last probed at (empty: none known)."""

    def weight(self, name: str) -> float:
        """The tuned weight `name` (e.g. `shutdown.complete`); 0 when unset."""
        return self.weights.get(name, 0.0)

    @property
    def failing_vantages(self) -> list[VantageFacts]:
        """Vantages that see members failing."""
        return [v for v in self.vantages if v.failing]

    def countries_of(self, names: Iterable[str]) -> set[str]:
        """The countries of the named vantages (those that have one)."""
        wanted = set(names)
        return {v.country for v in self.vantages if v.name in wanted and v.country}
