"""The probe registry and the ProbeSet that runs any target through its probe.

`PROBES` maps a target kind to its probe class; a new kind (built in or not) is added
the same way: `PROBES["mykind"] = MyProbe`, where `MyProbe(context)` has `kind`,
`async measure(spec) -> Observation` and `async close()`.
"""

from __future__ import annotations

import logging
from time import perf_counter
from types import TracebackType
from typing import Any, Protocol

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.block import BlockProbe
from netvigil.probes.classify import error_text
from netvigil.probes.context import ProbeContext
from netvigil.probes.dns import DNSProbe
from netvigil.probes.http import HTTPProbe
from netvigil.probes.icmp import ICMPProbe
from netvigil.probes.resolve import Resolver
from netvigil.probes.tcp import TCPProbe
from netvigil.probes.tls import TLSProbe

__all__ = ["PROBES", "ProbeFactory", "ProbeSet"]

log = logging.getLogger(__name__)


class _AnyProbe(Protocol):
    async def measure(self, spec: Any, /) -> Observation: ...

    async def close(self) -> None: ...


class ProbeFactory(Protocol):
    """A probe class: built once per ProbeSet with the shared context."""

    def __call__(self, context: ProbeContext, /) -> _AnyProbe: ...


PROBES: dict[str, ProbeFactory] = {
    "http": HTTPProbe,
    "tcp": TCPProbe,
    "dns": DNSProbe,
    "icmp": ICMPProbe,
    "tls": TLSProbe,
    "block": BlockProbe,
}
"""Probe class by target kind."""


class ProbeSet:
    """Measures any target with the probe for its kind, sharing resolver and TLS contexts.

    Usage::

        async with ProbeSet() as probes:
            observation = await probes.measure(spec)

    `measure` never raises for a network failure, nor for a probe that raises (a bug:
    logged, and returned as `unknown`). It sets no deadline of its own: each probe keeps
    `spec.timeout_s` itself, and the scheduler (`netvigil.scheduler.Scheduler`, which
    `Monitor` runs every check through) cuts off a probe that overruns it by more than
    its grace, so one timer per check is enough.
    Raises KeyError for a kind that has no probe registered.
    """

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        probes: dict[str, ProbeFactory] | None = None,
    ) -> None:
        self.context = ProbeContext() if resolver is None else ProbeContext(resolver=resolver)
        self._factories = PROBES if probes is None else probes
        self._probes: dict[str, _AnyProbe] = {}

    def probe(self, kind: str) -> _AnyProbe:
        """The probe instance for `kind` (made on first use); KeyError if none is registered."""
        probe = self._probes.get(kind)
        if probe is None:
            factory = self._factories.get(kind)
            if factory is None:
                raise KeyError(f"no probe registered for kind {kind!r}")
            probe = self._probes[kind] = factory(self.context)
        return probe

    async def measure(self, spec: TargetBase) -> Observation:
        """Measure `spec` once with the probe for its kind."""
        kind: str = getattr(spec, "kind", "")
        probe = self._probes.get(kind) or self.probe(kind)
        start = perf_counter()
        try:
            return await probe.measure(spec)
        except Exception as exc:  # a probe bug must not stop the others
            log.exception("probe %s failed on %s", kind, spec.name)
            return Observation(
                ok=False,
                outcome=Outcome.UNKNOWN,
                phase=Phase.REQUEST,
                timings={"total": perf_counter() - start},
                detail={"error": error_text(exc)},
            )

    async def close(self) -> None:
        """Close every probe made so far."""
        probes, self._probes = list(self._probes.values()), {}
        for probe in probes:
            await probe.close()

    async def __aenter__(self) -> ProbeSet:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
