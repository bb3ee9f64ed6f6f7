"""The target index: what the config says about each target (service, network,
organization, control, probe interval), and which services share a network or an
organization. Targets the config does not name (an agent's) are added as their own
service with the default interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.config.model import Config

__all__ = ["TargetIndex", "TargetInfo"]


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """One target as the config describes it."""

    service: str | None
    network: str | None
    organization: str | None
    control: bool
    interval_s: float


class TargetIndex:
    """Targets, services, networks and organizations of one config."""

    def __init__(self, config: Config, default_interval_s: float) -> None:
        self.config = config
        self.default_interval_s = default_interval_s
        self._info: dict[str, TargetInfo] = {}
        self.service_targets: dict[str, list[str]] = {}
        self.network_services: dict[str, list[str]] = {}
        self.org_services: dict[str, list[str]] = {}
        self._network: dict[str, str | None] = {}
        services = {s.name: s for s in config.services}
        for spec in config.targets:
            svc = services.get(spec.service) if spec.service else None
            self._info[spec.name] = TargetInfo(
                service=spec.service,
                network=svc.network if svc else None,
                organization=svc.organization if svc else None,
                control=spec.control,
                interval_s=spec.interval_s,
            )
            if spec.service:
                self.service_targets.setdefault(spec.service, []).append(spec.name)
        for svc in config.services:
            self._network.setdefault(svc.name, svc.network)  # the first of a name, as `service`
            if svc.network:
                self.network_services.setdefault(svc.network, []).append(svc.name)
            if svc.organization:
                self.org_services.setdefault(svc.organization, []).append(svc.name)

    def __getitem__(self, target: str) -> TargetInfo:
        info = self._info.get(target)
        if info is None:
            info = TargetInfo(target, None, None, False, self.default_interval_s)
            self._info[target] = info
            self.service_targets.setdefault(target, []).append(target)
        return info

    def __contains__(self, target: object) -> bool:
        return target in self._info

    def service_of(self, target: str) -> str | None:
        """The service of `target`, or None for one not known."""
        info = self._info.get(target)
        return info.service if info is not None else None

    def network_of(self, service: str) -> str | None:
        """The network a configured service is hosted on."""
        return self._network.get(service)

    def interval(self, targets: list[str] | tuple[str, ...]) -> float:
        """The shortest probe interval of `targets` (the default when none is known)."""
        return min(
            (self._info[t].interval_s for t in targets if t in self._info),
            default=self.default_interval_s,
        )
