"""Who does which piece of shared work: rendezvous (highest-random-weight) hashing.

    owner("api.example", {"p1", "p2", "p3"})          # -> "p2", in every process
    share(target_names, live_members, me="p1")        # -> the names p1 probes

Each (key, member) pair gets a weight, a stable hash of both (BLAKE2b, never the
salted built-in `hash()`), and a key belongs to the member with the highest weight.
Every process that sees the same members computes the same owners, with no messages
exchanged. The assignment is stable: when a member leaves, only its keys move (each to
the member with the next-highest weight for it); when one joins, it takes the keys it
now outweighs, about 1/n of them, and nothing else moves. Ties in weight (practically
impossible with 64-bit weights) go to the member whose name sorts last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable

__all__ = ["assign", "owner", "share", "weight"]


def weight(key: str, member: str) -> int:
    """The rendezvous weight of `member` for `key`: a 64-bit stable hash of the pair."""
    name = member.encode()
    pair = len(name).to_bytes(4, "big") + name + key.encode()  # the length keeps pairs apart
    digest = hashlib.blake2b(pair, digest_size=8, person=b"netvigil-hrw").digest()
    return int.from_bytes(digest, "big")


def owner(key: str, members: Iterable[str]) -> str:
    """The member that owns `key` among `members`. Raises ValueError when there are none."""
    best: tuple[int, str] | None = None
    for member in members:
        candidate = (weight(key, member), member)
        if best is None or candidate > best:
            best = candidate
    if best is None:
        raise ValueError(f"no members to own {key!r}")
    return best[1]


def assign(keys: Iterable[str], members: Collection[str]) -> dict[str, str]:
    """Every key's owner among `members` (empty when there are no members)."""
    if not members:
        return {}
    ordered = sorted(members)
    return {key: owner(key, ordered) for key in keys}


def share(keys: Iterable[str], members: Collection[str], me: str) -> list[str]:
    """The keys (in their given order) that `me` owns among `members`.

    `me` is counted as a member even when `members` does not list it yet (a member that
    has just joined, before its own heartbeat came back), so a lone process owns all.
    """
    everyone = set(members)
    everyone.add(me)
    ordered = sorted(everyone)
    return [key for key in keys if owner(key, ordered) == me]
