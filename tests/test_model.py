"""Measurement ids: valid ULIDs, unique, in time order, cheap to make."""

from __future__ import annotations

import os
import threading

import pytest
import ulid

from netvigil.model import new_measurement_id

T = 1_700_000_000.123


def test_id_is_a_ulid_of_its_time() -> None:
    for ts in (0.0, T, 1e11, 2.8e11):
        text = new_measurement_id(ts)
        assert len(text) == 26
        assert set(text) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        parsed = ulid.ULID.from_str(text)
        assert str(parsed) == text
        assert parsed.milliseconds == int(ts * 1000)


def test_ids_made_in_order_sort_in_order_and_are_unique() -> None:
    # Many per millisecond (the monotonic increment), then later milliseconds.
    times = [T + i // 500 * 0.001 for i in range(5000)] + [T + 10 + i for i in range(50)]
    ids = [new_measurement_id(ts) for ts in times]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    same_ms = [ulid.ULID.from_str(i) for i in ids[:500]]
    randoms = [int.from_bytes(u.bytes[6:], "big") for u in same_ms]
    assert randoms == list(range(randoms[0], randoms[0] + 500))


def test_ids_of_earlier_times_sort_earlier() -> None:
    late = new_measurement_id(T + 1)
    early = new_measurement_id(T)
    assert early < late
    assert new_measurement_id() > late  # now is after 2023


def test_out_of_range_time_is_refused() -> None:
    with pytest.raises(ValueError, match="out of the ULID range"):
        new_measurement_id(-1.0)
    with pytest.raises(ValueError, match="out of the ULID range"):
        new_measurement_id(2.0**48)


def test_ids_from_many_threads_are_unique() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        for _ in range(3000):
            out.append(new_measurement_id(T))

    threads = [threading.Thread(target=work, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for out in made for i in out]
    assert len(set(everything)) == len(everything) == 12_000
    for out in made:
        assert out == sorted(out)  # each thread's ids in its own order


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_measurement_id(T)  # the state a child inherits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the next ids for the same millisecond, then leave
        try:
            os.write(write, ",".join(new_measurement_id(T) for _ in range(20)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        child = f.read().split(",")
    os.waitpid(pid, 0)
    parent = [new_measurement_id(T) for _ in range(20)]
    assert len(child) == 20
    assert not set(child) & set(parent)
