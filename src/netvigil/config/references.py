"""What no single setting of a config shows: names used twice, names that refer to nothing,
and DNS resolvers given by name.

The checks read validated sections and raw TOML tables alike, so the loader can report
these problems in the same pass as the settings' own, even when some settings are invalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import ip_address
from typing import Any

__all__ = ["CROSS_CHECKED", "ReferenceProblems", "cross_check_problems"]


class ReferenceProblems(ValueError):
    """Names in a config that refer to nothing (or are used twice): one (location, message)
    pair each, so that every problem is reported on its own line with its place."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in problems))


CROSS_CHECKED = ("networks", "organizations", "services", "targets", "agents", "maintenance")


def _get(item: object, key: str) -> Any:
    """A setting of a validated section or of a raw TOML table (None when absent)."""
    if isinstance(item, dict):
        return item.get(key)
    return getattr(item, key, None)


def _items(sections: Mapping[str, Any], name: str) -> list[Any]:
    value = sections.get(name)
    return list(value) if isinstance(value, list) else []


def cross_check_problems(sections: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What no single setting shows: names used twice, names that refer to nothing, and
    DNS resolvers given by name. One (location, message) pair each.

    `sections` maps top-level names to validated sections or to raw TOML tables, so the
    loader can report these problems in the same pass as the settings' own problems.
    """
    problems: list[tuple[str, str]] = []
    for field_name in ("networks", "organizations", "services", "targets", "agents"):
        seen: set[str] = set()
        for item in _items(sections, field_name):
            name = _get(item, "name")
            if isinstance(name, str) and name in seen:
                problems.append((field_name, f"name {name!r} is used twice"))
            if isinstance(name, str):
                seen.add(name)
    networks = {_get(n, "name") for n in _items(sections, "networks")}
    orgs = {_get(o, "name") for o in _items(sections, "organizations")}
    services = {_get(s, "name") for s in _items(sections, "services")}
    for i, svc in enumerate(_items(sections, "services")):
        network, org = _get(svc, "network"), _get(svc, "organization")
        if isinstance(network, str) and network not in networks:
            problems.append((f"services[{i}].network", f"unknown network {network!r}"))
        if isinstance(org, str) and org not in orgs:
            problems.append((f"services[{i}].organization", f"unknown organization {org!r}"))
    for i, tgt in enumerate(_items(sections, "targets")):
        problems += _target_problems(i, tgt, services)
    for i, window in enumerate(_items(sections, "maintenance")):
        names = _get(window, "services")
        for name in names if isinstance(names, list) else []:
            if isinstance(name, str) and name not in services:
                problems.append((f"maintenance[{i}].services", f"unknown service {name!r}"))
    vantage = _get(sections.get("vantage") or {}, "name") or "local"
    if vantage in {_get(a, "name") for a in _items(sections, "agents")}:
        problems.append(("agents", f"{vantage!r} is this server's own vantage name"))
    return problems


def _target_problems(i: int, target: object, services: set[Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    service, control = _get(target, "service"), _get(target, "control")
    if service is None and not control:
        problems.append(
            (
                f"targets[{i}].service",
                f"target {_get(target, 'name')!r} names no service"
                " (set service, or control = true for a control target)",
            )
        )
    elif isinstance(service, str) and service not in services:
        problems.append((f"targets[{i}].service", f"unknown service {service!r}"))
    resolver = _get(target, "resolver")
    if _get(target, "kind") == "dns" and isinstance(resolver, str) and resolver:
        try:
            ip_address(resolver)
        except ValueError:
            problems.append(
                (
                    f"targets[{i}].resolver",
                    f"must be an IP address like 9.9.9.9, not {resolver!r}"
                    " (a resolver's name would need a resolver of its own)",
                )
            )
    return problems
