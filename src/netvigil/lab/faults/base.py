"""The fault seam: what a fault needs from the lab, what a fault is, and the map of kinds.

A fault kind is one class in one file, registered in `FAULTS` under its kind name:

    @register
    class ServiceCrash(Fault[CrashedService]):
        kind = "service_crash"
        target = "service"
        cause = Cause.SERVICE_FAILURE
        record_type = CrashedService

        def apply(self, host: LabHost) -> CrashedService: ...
        def undo(self, host: LabHost, record: CrashedService) -> None: ...

`apply` changes the lab and returns an `UndoRecord`: a frozen dataclass saying exactly
what it changed, kept (as JSON) in the lab's state file so that another process, or
`netvigil lab down` after a crash, can undo it. `apply` either succeeds or leaves the
lab as it found it. The scenario model accepts the kinds in `FAULTS`, so a kind
registered by a third party's module (imported before the scenario is loaded) is
accepted too.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from netvigil.cause import Cause
from netvigil.errors import LabError
from netvigil.lab.limits import MAX_CONCURRENCY, MAX_DURATION_S, MAX_PPS, MAX_SIZE
from netvigil.lab.topology import Topology

__all__ = [
    "FAULTS",
    "ActiveFault",
    "Fault",
    "FaultSpec",
    "LabHost",
    "TargetSort",
    "UndoRecord",
    "make_fault",
    "register",
    "target_sort",
]

TargetSort = Literal["network", "service", "dns", "vantage"]
"""What a fault kind targets: a network, a web service, a DNS zone or server, a vantage."""


class LabHost(Protocol):
    """What faults need from a running lab (netvigil.lab.lab.Lab is the real one).

    `name` arguments are host or network names (a network stands for its router).
    """

    @property
    def topology(self) -> Topology: ...

    @property
    def ca_file(self) -> Path: ...

    def command(self, name: str, argv: Sequence[str], *, check: bool = True) -> str:
        """Run a short command inside `name`'s namespace; its stdout. Raises LabError."""
        ...

    def port_of(self, host: str) -> str:
        """The router-side interface of `host`'s link."""
        ...

    def downlink_of(self, network: str) -> str:
        """The upstream router's interface towards `network`."""
        ...

    def routed_prefixes(self, network: str) -> list[str]:
        """The prefixes reached through `network`'s uplink."""
        ...

    def add_routes(self, network: str) -> None:
        """Announce `network` upstream."""
        ...

    def withdraw_routes(self, network: str) -> None:
        """Withdraw `network` upstream."""
        ...

    def reset_queue(self, network: str) -> None:
        """Put back the plain FIFO of `network`'s shaped uplink."""
        ...

    def python(self, module: str, *args: str) -> list[str]:
        """argv running a netvigil module with the lab's interpreter."""
        ...

    def spawn(self, name: str, key: str, argv: Sequence[str]) -> int:
        """Start a long-running process under `key` in `name`'s namespace; its pid."""
        ...

    def stop(self, key: str, *, sig: signal.Signals = ...) -> None:
        """Stop the process under `key` (nothing when there is none)."""
        ...

    def signal(self, key: str, sig: signal.Signals) -> None:
        """Signal the process under `key`. Raises LabError when it is not running."""
        ...

    def has_process(self, key: str) -> bool:
        """Whether the lab holds a process under `key`."""
        ...

    def start_service(self, name: str, *, wait: bool = True) -> None:
        """Start (or restart) a web service's server process."""
        ...

    def bird_socket(self, name: str) -> str:
        """The control socket of network `name`'s BIRD."""
        ...

    def birdc(self, network: str, *args: str, check: bool = True) -> str:
        """`birdc ARGS` on `network`'s router's BIRD; its output. Raises LabError."""
        ...


class FaultSpec(BaseModel):
    """One fault on a scenario's timeline (`[[fault]]`); times are seconds from the start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    """A kind in `FAULTS`."""
    target: str = Field(min_length=1)
    at: float = Field(default=0.0, ge=0)
    until: float = Field(gt=0)
    rate_pps: int = Field(default=3000, ge=1, le=MAX_PPS)
    """volumetric_ddos: packets per second (latency_spike: background stream, fallback)."""
    packet_size: int = Field(default=1200, ge=28, le=MAX_SIZE)
    pulse_on_s: float = Field(default=0.0, ge=0, le=60)
    pulse_off_s: float = Field(default=0.0, ge=0, le=60)
    """volumetric_ddos: flood in pulses (on/off), for flapping reachability."""
    concurrency: int = Field(default=64, ge=1, le=MAX_CONCURRENCY)
    """application_ddos: requests kept in flight."""
    mode: Literal["drop", "reset"] = "drop"
    """in_country_filter: drop silently, or reset TCP (and reject the rest)."""
    delay_ms: int = Field(default=40, ge=0, le=1000)
    jitter_ms: int = Field(default=30, ge=0, le=1000)
    loss: float = Field(default=0.02, ge=0, le=0.1)
    """latency_spike: added delay, jitter and random loss (sparse: at most 10%)
    (scrubbing_diversion: `delay_ms` is the detour's added delay)."""
    upstream: str | None = None
    """bgp_withdrawal: withdraw from this upstream only (the others keep the routes)."""
    withdraw_after_s: float = Field(default=20.0, ge=0, le=MAX_DURATION_S)
    """defensive_withdrawal: seconds of flood before the network withdraws its prefix."""

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(sorted(FAULTS))})")
        return kind

    @model_validator(mode="after")
    def _check_window(self) -> Self:
        if self.until <= self.at:
            raise ValueError(f"until ({self.until}) must be after at ({self.at})")
        if self.until - self.at > MAX_DURATION_S:
            raise ValueError(f"a fault may last at most {MAX_DURATION_S:.0f}s")
        return self

    @property
    def duration_s(self) -> float:
        return self.until - self.at

    @property
    def fault_id(self) -> str:
        return f"{self.kind}:{self.target}:{self.at:g}"


@dataclass(frozen=True, slots=True)
class UndoRecord:
    """What applying a fault changed; each kind subclasses it with its own fields."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (tuples become lists)."""
        data: dict[str, Any] = _adapter(type(self)).dump_python(self, mode="json")
        return data

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Read the form `to_json` wrote. Raises LabError when it does not fit."""
        try:
            record: Self = _adapter(cls).validate_python(data)
        except ValueError as exc:
            raise LabError(f"unreadable {cls.__name__} undo record: {exc}") from exc
        return record


_ADAPTERS: dict[type[UndoRecord], TypeAdapter[Any]] = {}


def _adapter(record_type: type[UndoRecord]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(record_type)
    if adapter is None:
        adapter = _ADAPTERS[record_type] = TypeAdapter(record_type)
    return adapter


RecordT = TypeVar("RecordT", bound=UndoRecord)


class Fault(ABC, Generic[RecordT]):
    """A fault kind; an instance is one fault of that kind, as its spec describes it."""

    kind: ClassVar[str]
    """The name scenarios use (`kind = "..."`)."""
    target: ClassVar[TargetSort]
    cause: ClassVar[Cause | None]
    """The cause a detector should name for this fault (None: it must raise no incident)."""
    record_type: ClassVar[type[UndoRecord]]
    """The UndoRecord subclass `apply` returns (to read it back from the state file)."""
    needs_uplink: ClassVar[bool] = False
    """A network target must have an upstream (it may not be the core network)."""
    floods_uplink: ClassVar[bool] = False
    """It floods its network's shaped uplink (`rate_pps`, `packet_size`): its flood phase
    is an outage only at `truth.FLOOD_OUTAGE_RATIO` times the uplink or more."""

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec

    @classmethod
    def cause_of(cls, spec: FaultSpec) -> Cause | None:
        """The cause a detector should name for this fault (default: the kind's `cause`)."""
        return cls.cause

    @classmethod
    def phases(cls, spec: FaultSpec) -> list[tuple[Cause | None, float, float]]:
        """The fault's course as (cause, from, until): one phase by default; a kind whose
        effect changes on the way (a flood, then a withdrawal) has more."""
        return [(cls.cause_of(spec), spec.at, spec.until)]

    @classmethod
    def fits(cls, topology: Topology, target: str) -> bool:
        """Whether `target` in `topology` has what this kind needs beyond its sort (a
        scrubbing service linked to it, say); the fuzzer only picks such targets."""
        return True

    def check(self, host: LabHost) -> None:
        """Check that the target exists in `host`'s topology. Raises LabError."""
        topo, t, kind = host.topology, self.spec.target, self.kind
        if self.target == "network":
            if not any(n.name == t for n in topo.networks):
                raise LabError(f"{kind}: no network named {t!r}")
            if self.needs_uplink and topo.network(t).upstream is None:
                raise LabError(f"{kind}: {t!r} is the core network; pick one with an upstream")
        elif self.target == "service" and not any(s.name == t for s in topo.services):
            raise LabError(f"{kind}: no service named {t!r}")
        elif self.target == "vantage" and not any(
            h.name == t and h.role == "vantage" for h in topo.hosts
        ):
            raise LabError(f"{kind}: no vantage named {t!r}")
        elif self.target == "dns" and topo.zone_server(t) is None:
            raise LabError(f"{kind}: no DNS server host or zone named {t!r}")

    @abstractmethod
    def apply(self, host: LabHost) -> RecordT:
        """Start the fault now; what it changed. On failure it undoes its partial changes."""

    @abstractmethod
    def undo(self, host: LabHost, record: RecordT) -> None:
        """Undo what `apply` recorded (as far as it still exists)."""


FAULTS: dict[str, type[Fault[Any]]] = {}
"""Fault kinds by name: the built-in ones and any a third party registers."""

FaultT = TypeVar("FaultT", bound=type[Fault[Any]])


def register(cls: FaultT) -> FaultT:
    """Class decorator: add a fault kind to `FAULTS`. Raises ValueError on a taken name."""
    if cls.kind in FAULTS and FAULTS[cls.kind] is not cls:
        raise ValueError(f"fault kind {cls.kind!r} is already registered")
    FAULTS[cls.kind] = cls
    return cls


def target_sort(kind: str) -> TargetSort:
    """What a fault kind targets: `network`, `service`, `dns` or `vantage`."""
    return FAULTS[kind].target


def make_fault(spec: FaultSpec) -> Fault[Any]:
    """The fault a spec describes. Raises LabError for a kind no longer registered."""
    try:
        cls = FAULTS[spec.kind]
    except KeyError as exc:
        raise LabError(f"no fault kind {spec.kind!r} is registered") from exc
    return cls(spec)


@dataclass(frozen=True, slots=True)
class ActiveFault:
    """A fault applied in the lab: its spec, when it started, and what to undo."""

    spec: FaultSpec
    started: float
    record: UndoRecord

    def to_json(self) -> dict[str, Any]:
        """The state file's form of it."""
        return {
            "spec": self.spec.model_dump(mode="json"),
            "started": self.started,
            "undo": self.record.to_json(),
        }

    @classmethod
    def from_json(cls, data: Any) -> ActiveFault:
        """Read the form `to_json` wrote. Raises LabError when it does not fit."""
        try:
            spec = FaultSpec.model_validate(data["spec"])
            started = float(data["started"])
            undo = data["undo"]
        except (KeyError, TypeError, ValueError) as exc:
            raise LabError(f"unreadable active fault in the lab state: {exc}") from exc
        return cls(spec, started, FAULTS[spec.kind].record_type.from_json(undo))

    def undo(self, host: LabHost) -> None:
        """Undo this fault in `host`."""
        make_fault(self.spec).undo(host, self.record)
