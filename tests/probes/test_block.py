"""The block probe: the belief update, how a target splits into blocks, rounds on loopback."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from netvigil.outcome import Outcome
from netvigil.probes import PROBES, ProbeSet
from netvigil.probes.block import BlockProbe, BlockSpec, blocks_up_sample, update_belief
from netvigil.signal import SignalEvent, SignalSample


def test_a_reply_raises_the_belief_and_silence_lowers_it() -> None:
    up = update_belief(0.5, True, availability=0.8, stray=0.01)
    assert up == pytest.approx(0.5 * 0.8 / (0.5 * 0.8 + 0.5 * 0.01))
    down = update_belief(0.5, False, availability=0.8, stray=0.01)
    assert down == pytest.approx(0.5 * 0.2 / (0.5 * 0.2 + 0.5 * 0.99))
    # a sparse block (low A) says little by its silence: one lost reply moves it less
    assert update_belief(0.9, False, 0.2, 0.01) > update_belief(0.9, False, 0.9, 0.01)


def test_a_down_block_is_concluded_after_a_few_silent_probes() -> None:
    belief, probes = 0.99, 0
    while belief >= 0.1:
        belief = update_belief(belief, False, availability=0.8, stray=0.01)
        probes += 1
    assert probes == 5  # 0.99 -> 0.95 -> 0.80 -> 0.45 -> 0.14 -> 0.03


def test_targets_split_into_blocks() -> None:
    spec = BlockSpec(name="b", addresses=["192.0.2.1", "192.0.2.2", "198.51.100.9", "2001:db8::1"])
    assert spec.blocks() == {
        "192.0.2.0/24": ["192.0.2.1", "192.0.2.2"],
        "198.51.100.0/24": ["198.51.100.9"],
        "2001:db8::/64": ["2001:db8::1"],
    }
    small = BlockSpec(name="p", prefix="192.0.2.0/26")
    assert list(small.blocks()) == ["192.0.2.0/26"] and len(small.blocks()["192.0.2.0/26"]) == 62
    wide = BlockSpec(name="w", prefix="198.51.100.0/23", block_prefixlen4=24)
    assert list(wide.blocks()) == ["198.51.100.0/24", "198.51.101.0/24"]
    assert (
        spec.entity == "b"
        and BlockSpec(name="x", prefix="192.0.2.0/24", network="gov").entity == "gov"
    )


@pytest.mark.parametrize(
    "fields",
    [{}, {"prefix": "192.0.2.0/24", "addresses": ["192.0.2.1"]}, {"prefix": "nowhere"},
     {"addresses": ["192.0.2.300"]}, {"prefix": "192.0.2.0/24", "max_probes": 0}],
)  # fmt: skip
def test_bad_block_targets_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BlockSpec.model_validate({"name": "bad", **fields})


def test_the_block_kind_is_registered() -> None:
    assert PROBES["block"] is BlockProbe


class Collect:
    def __init__(self) -> None:
        self.samples: list[SignalSample] = []

    def sample(self, sample: SignalSample) -> None:
        self.samples.append(sample)

    def event(self, event: SignalEvent) -> None:
        raise AssertionError("the block probe emits no events")


needs_raw = pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP sockets need root")


@needs_raw
async def test_a_block_whose_addresses_answer_is_up_after_one_probe() -> None:
    sink = Collect()
    probe = BlockProbe(sink=sink)
    spec = BlockSpec(name="lo", addresses=["127.0.0.1", "127.0.0.2", "127.0.0.3"],
                     network="loopback", timeout_s=5)  # fmt: skip
    first = await probe.measure(spec)
    assert first.ok and first.outcome is Outcome.OK
    block = first.detail["blocks"]["127.0.0.0/24"]
    assert block["state"] == "up" and block["replies"] == block["probes"] == 1
    assert first.detail["blocks_up"] == first.detail["blocks_watched"] == 1
    second = await probe.measure(spec)
    assert second.detail["blocks"]["127.0.0.0/24"]["belief"] > block["belief"]
    assert [s.value for s in sink.samples] == [1.0, 1.0]
    assert sink.samples[0].entity == "loopback" and sink.samples[0].signal == "blocks_up"


@needs_raw
async def test_a_round_sends_at_most_max_probes_per_block() -> None:
    # Replies barely tell up from down here (A = 0.5, ε = 0.4): the belief would need
    # about ten replies to be confident, so the round stops at max_probes instead.
    spec = BlockSpec(name="lo", prefix="127.0.0.0/29", availability=0.5, stray_reply=0.4,
                     max_probes=4, timeout_s=5)  # fmt: skip
    async with ProbeSet() as probes:
        seen = await probes.measure(spec)
    block = seen.detail["blocks"]["127.0.0.0/29"]
    assert block["probes"] == seen.detail["probes"] == 4 and block["replies"] == 4
    assert block["state"] == "uncertain" and seen.ok
    assert blocks_up_sample(spec, seen, 1.0).value == 0.0
