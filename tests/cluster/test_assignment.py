"""Rendezvous hashing: one owner per key, stable when members leave or join, balanced."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netvigil.cluster import KeyOwners, assign, owner, share

names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
key_lists = st.lists(names, min_size=1, max_size=200, unique=True)
member_sets = st.sets(names, min_size=1, max_size=12)


@given(key_lists, member_sets)
def test_every_key_has_exactly_one_owner(keys: list[str], members: set[str]) -> None:
    shares = {m: share(keys, members, m) for m in members}
    owned = [key for mine in shares.values() for key in mine]
    assert sorted(owned) == sorted(keys)
    for m, mine in shares.items():
        assert all(owner(key, members) == m for key in mine)


@given(key_lists, st.sets(names, min_size=2, max_size=12), st.data())
def test_a_leave_moves_only_the_leavers_keys(
    keys: list[str], members: set[str], data: st.DataObject
) -> None:
    leaver = data.draw(st.sampled_from(sorted(members)))
    before = assign(keys, members)
    after = assign(keys, members - {leaver})
    for key in keys:
        if before[key] != leaver:
            assert after[key] == before[key]
        else:
            assert after[key] != leaver


@given(key_lists, member_sets, names)
def test_a_join_moves_keys_only_to_the_joiner(
    keys: list[str], members: set[str], joiner: str
) -> None:
    before = assign(keys, members)
    after = assign(keys, members | {joiner})
    assert all(after[k] == before[k] for k in keys if after[k] != joiner)


@pytest.mark.parametrize("n", [2, 3, 5, 10])
def test_keys_spread_evenly(n: int) -> None:
    keys = [f"target-{i}.example:443" for i in range(3000)]
    members = [f"prober-{i}" for i in range(n)]
    counts = {m: len(share(keys, members, m)) for m in members}
    fair = len(keys) / n
    assert all(0.8 * fair <= c <= 1.2 * fair for c in counts.values()), counts


def test_a_joiner_takes_about_its_fair_share() -> None:
    keys = [f"t{i}" for i in range(3000)]
    members = {"a", "b", "c"}
    before = assign(keys, members)
    after = assign(keys, members | {"d"})
    moved = [k for k in keys if before[k] != after[k]]
    assert all(after[k] == "d" for k in moved)
    assert 0.2 * len(keys) <= len(moved) <= 0.3 * len(keys)


def test_a_lone_member_owns_everything_even_before_it_sees_itself() -> None:
    assert share(["x", "y"], [], "me") == ["x", "y"]
    assert share(["x", "y"], ["me"], "me") == ["x", "y"]


def test_no_members_no_owner() -> None:
    with pytest.raises(ValueError, match="no members"):
        owner("x", [])
    assert assign(["x"], []) == {}


def test_the_same_in_another_process_whatever_its_hash_seed() -> None:
    keys = [f"k{i}" for i in range(200)]
    members = ["p1", "p2", "p3"]
    here = assign(keys, members)
    script = (
        "import json; from netvigil.cluster import assign; "
        f"print(json.dumps(assign({keys!r}, {members!r})))"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert json.loads(out.stdout) == here


@given(key_lists, member_sets, member_sets)
def test_key_owners_agree_with_share_as_members_change(
    keys: list[str], first: set[str], then: set[str]
) -> None:
    owners = KeyOwners(keys)
    for members in (first, then, first):
        assert owners.owners(members) == [owner(k, members) for k in keys]
        for me in members:
            assert owners.share(members, me) == share(keys, members, me)


def test_key_owners_need_members_only_when_there_are_keys() -> None:
    assert KeyOwners([]).owners([]) == []
    assert KeyOwners(["x"]).share([], "me") == ["x"]
    with pytest.raises(ValueError, match="no members"):
        KeyOwners(["x"]).owners([])
