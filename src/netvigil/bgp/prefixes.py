"""Which configured prefixes cover a prefix: an index fast enough for a full table.

A route collector's table holds about a million prefixes; `ipaddress` objects and
`subnet_of` on each against every configured prefix cost tens of microseconds. This
index keys the configured prefixes by (IP version, length) and masked address, so a
lookup is one integer mask and one dict probe per distinct configured length.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network
from typing import Generic, TypeVar

__all__ = ["PrefixIndex"]

T = TypeVar("T")

_FAMILY = {4: (socket.AF_INET, 32), 6: (socket.AF_INET6, 128)}


class PrefixIndex(Generic[T]):
    """Configured prefixes, each with a value; `covering(prefix)` lists the values of those
    equal to or less specific than `prefix` (so `prefix` is inside them)."""

    def __init__(self, entries: Iterable[tuple[IPv4Network | IPv6Network, T]]) -> None:
        self._table: dict[tuple[int, int], dict[int, list[T]]] = {}
        for net, value in entries:
            key = (net.version, net.prefixlen)
            masked = int(net.network_address)
            self._table.setdefault(key, {}).setdefault(masked, []).append(value)
        self._lengths = {
            version: sorted(length for v, length in self._table if v == version)
            for version in (4, 6)
        }

    def covering(self, prefix: str) -> list[T]:
        """The values of the configured prefixes covering `prefix` ("192.0.2.0/24"), shortest
        first; none for text that is not a prefix."""
        address, slash, length_text = prefix.partition("/")
        version = 6 if ":" in address else 4
        lengths = self._lengths[version]
        if not lengths:
            return []
        family, bits = _FAMILY[version]
        try:
            number = int.from_bytes(socket.inet_pton(family, address), "big")
            length = int(length_text) if slash else bits
        except (OSError, ValueError):
            return []
        found: list[T] = []
        for configured in lengths:
            if configured > length:
                break
            shift = bits - configured
            hit = self._table[(version, configured)].get((number >> shift) << shift)
            if hit:
                found.extend(hit)
        return found
