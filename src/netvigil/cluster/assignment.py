"""Who does which piece of shared work: rendezvous (highest-random-weight) hashing.

    owner("api.example", {"p1", "p2", "p3"})          # -> "p2", in every process
    share(target_names, live_members, me="p1")        # -> the names p1 probes
    owners = KeyOwners(target_names)                  # the same, for many keys and
    owners.share(live_members, me="p1")               # changing members: fast

Each (key, member) pair gets a weight, a stable hash of both (BLAKE2b, never the
salted built-in `hash()`), and a key belongs to the member with the highest weight.
Every process that sees the same members computes the same owners, with no messages
exchanged. The assignment is stable: when a member leaves, only its keys move (each to
the member with the next-highest weight for it); when one joins, it takes the keys it
now outweighs, about 1/n of them, and nothing else moves. Ties in weight (practically
impossible with 64-bit weights) go to the member whose name sorts last.

The split is as even as a random one: with k keys per member, each member's count is
within about 2/sqrt(k) of k (±10% at 400 keys per member). `share` hashes every
(key, member) pair on each call; `KeyOwners` hashes a member's weights for its fixed
keys once, when it first sees the member, and then finds owners with numpy (100,000
keys: about half a second per new member, milliseconds per change after that).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["KeyOwners", "assign", "owner", "share", "weight"]

_PERSON = b"netvigil-hrw"


def _member_prefix(member: str) -> bytes:
    name = member.encode()
    return len(name).to_bytes(4, "big") + name  # the length keeps pairs apart


def weight(key: str, member: str) -> int:
    """The rendezvous weight of `member` for `key`: a 64-bit stable hash of the pair."""
    pair = _member_prefix(member) + key.encode()
    digest = hashlib.blake2b(pair, digest_size=8, person=_PERSON).digest()
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


class KeyOwners:
    """The owners of a fixed list of keys as members come and go (see the module docs).

    Gives exactly what `owner` and `share` give; each member's weights for the keys are
    hashed once and kept while it is a member.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self._encoded = [key.encode() for key in self.keys]
        self._weights: dict[str, npt.NDArray[np.uint64]] = {}

    def owners(self, members: Collection[str]) -> list[str]:
        """Each key's owner among `members`, in the order of the keys.

        Raises ValueError when there are no members (and there are keys).
        """
        if not self.keys:
            return []
        if not members:
            raise ValueError("no members to own the keys")
        ranked = sorted(set(members), reverse=True)  # argmax takes the first: the last name
        for gone in self._weights.keys() - set(ranked):
            del self._weights[gone]
        table = np.stack([self._weights_of(member) for member in ranked])
        return [ranked[i] for i in table.argmax(axis=0).tolist()]

    def share(self, members: Collection[str], me: str) -> list[str]:
        """The keys `me` owns among `members` (`me` counted in), in the order of the keys."""
        owners = self.owners({*members, me})
        return [key for key, who in zip(self.keys, owners, strict=True) if who == me]

    def _weights_of(self, member: str) -> npt.NDArray[np.uint64]:
        weights = self._weights.get(member)
        if weights is None:
            base = hashlib.blake2b(digest_size=8, person=_PERSON)
            base.update(_member_prefix(member))
            digests = []
            for key in self._encoded:
                pair = base.copy()
                pair.update(key)
                digests.append(pair.digest())
            weights = np.frombuffer(b"".join(digests), dtype=">u8").astype(np.uint64)
            self._weights[member] = weights
        return weights
