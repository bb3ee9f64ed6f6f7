"""Address-space block probe: is a network's address block up? Trinocular-style adaptive pings.

    [[targets]]
    name = "gov-blocks"
    kind = "block"
    prefix = "192.0.2.0/26"               # or: addresses = ["192.0.2.2", "192.0.2.3"]
    network = "gov"

The watched addresses are split into blocks (/24 for IPv4, /64 for IPv6, or the prefix
itself when it is smaller). Each block keeps a belief B that it is up, updated by Bayes'
rule after each echo request (Quan, Heidemann and Pradkin, "Trinocular: Understanding
Internet Reliability Through Adaptive Probing", SIGCOMM 2013):

    reply:     B' = B·A / (B·A + (1 - B)·ε)
    no reply:  B' = B·(1 - A) / (B·(1 - A) + (1 - B)·(1 - ε))

where A is the block's availability (the fraction of its ever-responsive addresses that
answer in normal times: `availability`, or learned from the rounds it was up, starting
at 0.8; rounds stop early on replies, so the learned value leans high) and ε the
small chance of a reply from a block that is down (`stray_reply`). Each round probes the
block's addresses one at a time, in a fixed shuffled order carried on from the last
round, and stops as soon as the belief is confident (above 0.9: up; below 0.1: down) or
after `max_probes` (default 15) probes; between rounds the belief is held inside
[0.01, 0.99] so a change is seen within a few probes. Probes to one address, and to the
whole target, are paced by `netvigil.ratelimit.RateGuard`s.

The Observation of a round is ok when no block is believed down; detail holds the belief
per block, `blocks_up` / `blocks_watched` and the probes sent; `blocks_up_sample` turns
it into the `blocks_up` SignalSample of the target's network.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, ClassVar, Literal, Self

from icmplib import (
    AsyncSocket,
    ICMPRequest,
    ICMPSocketError,
    ICMPv4Socket,
    ICMPv6Socket,
    SocketPermissionError,
    TimeoutExceeded,
)
from pydantic import Field, model_validator

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.classify import ICMPReport, classify_icmp
from netvigil.probes.context import ProbeContext
from netvigil.ratelimit import RateGuard
from netvigil.signal import SignalSample, SignalSink

__all__ = ["BlockBelief", "BlockProbe", "BlockSpec", "blocks_up_sample", "update_belief"]

UP, DOWN = 0.9, 0.1
"""Belief thresholds: above UP the block is up, below DOWN it is down."""
BELIEF_FLOOR, BELIEF_CEILING = 0.01, 0.99
MAX_ADDRESSES_PER_BLOCK = 256


class BlockSpec(TargetBase):
    """A prefix (or a list of ever-responsive addresses) watched block by block."""

    kind: Literal["block"] = "block"
    prefix: str | None = None
    addresses: list[str] = Field(default_factory=list, max_length=4096)
    network: str | None = None
    """The network the blocks belong to (the `blocks_up` signal's entity)."""
    block_prefixlen4: int = Field(default=24, ge=8, le=32)
    block_prefixlen6: int = Field(default=64, ge=32, le=128)
    max_probes: int = Field(default=15, ge=1, le=64)
    """Echo requests per block per round, at most."""
    availability: float | None = Field(default=None, gt=0, le=1)
    """A(E(b)): the fraction of the addresses that answer in normal times (None: learned)."""
    stray_reply: float = Field(default=0.01, gt=0, lt=0.5)
    """ε: the chance of a reply from a block that is down."""
    reply_timeout_s: float = Field(default=1.0, gt=0, le=10)
    rate_pps: float = Field(default=50.0, gt=0, le=10_000)
    """Echo requests per second for the whole target, at most."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.prefix is None) == (not self.addresses):
            raise ValueError("a block target takes `prefix` or `addresses` (one of them)")
        if self.prefix is not None:
            ip_network(self.prefix, strict=False)
        for a in self.addresses:
            ip_address(a)
        return self

    @property
    def destination(self) -> str:
        return self.prefix or self.addresses[0]

    @property
    def entity(self) -> str:
        """The name the `blocks_up` signal goes under: the network, else the target."""
        return self.network or self.name

    def blocks(self) -> dict[str, list[str]]:
        """The watched addresses by block (each block's list capped at 256)."""
        if self.prefix is not None:
            net = ip_network(self.prefix, strict=False)
            hosts = [str(h) for h in net.hosts()] or [str(net.network_address)]
        else:
            hosts = list(self.addresses)
        out: dict[str, list[str]] = {}
        for h in hosts:
            addr = ip_address(h)
            plen = self.block_prefixlen4 if addr.version == 4 else self.block_prefixlen6
            block = _block_of(addr.exploded, plen, self.prefix)
            members = out.setdefault(block, [])
            if len(members) < MAX_ADDRESSES_PER_BLOCK:
                members.append(h)
        return out


def _block_of(address: str, prefixlen: int, prefix: str | None) -> str:
    block: IPv4Network | IPv6Network = ip_network(f"{address}/{prefixlen}", strict=False)
    if prefix is not None:
        whole = ip_network(prefix, strict=False)
        if whole.version == block.version and whole.prefixlen > block.prefixlen:
            block = whole
    return str(block)


def update_belief(belief: float, replied: bool, availability: float, stray: float) -> float:
    """Bayes' rule for one echo request: the new belief that the block is up."""
    if replied:
        up, down = belief * availability, (1 - belief) * stray
    else:
        up, down = belief * (1 - availability), (1 - belief) * (1 - stray)
    return up / (up + down) if up + down > 0 else belief


@dataclass
class BlockBelief:
    """What the probe knows of one block between rounds."""

    addresses: list[str]
    belief: float = 0.5
    availability: float | None = None
    next_index: int = 0
    replies: int = 0
    probes: int = 0
    report: ICMPReport | None = field(default=None, repr=False)

    @property
    def state(self) -> str:
        """`up`, `down` or `uncertain`."""
        return "up" if self.belief > UP else "down" if self.belief < DOWN else "uncertain"


class BlockProbe:
    """Runs rounds of adaptive probing over a target's blocks; keeps a belief per block.

    `sink`, when given, receives the `blocks_up` SignalSample of each round;
    `per_address_rate` caps the echo requests per second to any one address, whichever
    target it belongs to (the scheduler's default, 10).
    """

    kind: ClassVar[str] = "block"

    def __init__(
        self,
        context: ProbeContext | None = None,
        *,
        sink: SignalSink | None = None,
        per_address_rate: float = 10.0,
    ) -> None:
        self._context = context or ProbeContext()
        self.sink = sink
        self._beliefs: dict[tuple[str, str], BlockBelief] = {}
        self._address_guard = RateGuard(per_address_rate)
        self._target_guard: dict[str, RateGuard] = {}

    async def close(self) -> None:
        """Release nothing: every round opens its own sockets."""

    def beliefs(self, spec: BlockSpec) -> dict[str, BlockBelief]:
        """The belief per block of `spec` (made on first use, shuffled order per block)."""
        out: dict[str, BlockBelief] = {}
        for block, addresses in spec.blocks().items():
            key = (spec.name, block)
            known = self._beliefs.get(key)
            if known is None or sorted(known.addresses) != sorted(addresses):
                order = list(addresses)
                random.Random(f"{spec.name}/{block}").shuffle(order)
                known = self._beliefs[key] = BlockBelief(order, availability=spec.availability)
            out[block] = known
        return out

    async def measure(self, spec: BlockSpec) -> Observation:
        """One round over every block of `spec`, within `spec.timeout_s`."""
        start = time.perf_counter()
        guard = self._target_guard.setdefault(spec.name, RateGuard(spec.rate_pps))
        blocks = self.beliefs(spec)
        deadline = asyncio.get_running_loop().time() + spec.timeout_s
        rounds = [self._round(spec, b, guard, deadline) for b in blocks.values()]
        sent = sum(await asyncio.gather(*rounds))
        observation = self._conclude(spec, blocks, sent, time.perf_counter() - start)
        if self.sink is not None:
            self.sink.sample(blocks_up_sample(spec, observation, time.time()))
        return observation

    async def _round(
        self, spec: BlockSpec, block: BlockBelief, guard: RateGuard, deadline: float
    ) -> int:
        """Probe one block until the belief is confident or `max_probes` are sent; how many."""
        loop = asyncio.get_running_loop()
        block.belief = min(BELIEF_CEILING, max(BELIEF_FLOOR, block.belief))
        block.report, replies, sent = None, 0, 0
        availability = _clamp_availability(block.availability or 0.8)
        family6 = ip_address(block.addresses[0]).version == 6
        with AsyncSocket(_open_socket(family6)) as sock:
            while sent < spec.max_probes:
                if sent and (block.belief > UP or block.belief < DOWN):
                    break
                address = block.addresses[block.next_index % len(block.addresses)]
                block.next_index += 1
                now = loop.time()
                wait = max(guard.reserve("*", now), self._address_guard.reserve(address, now))
                if now + wait + spec.reply_timeout_s > deadline:
                    break
                if wait:
                    await asyncio.sleep(wait)
                replied = await self._echo(sock, address, spec.reply_timeout_s, block)
                sent += 1
                replies += replied
                block.belief = update_belief(block.belief, replied, availability, spec.stray_reply)
        block.probes, block.replies = sent, replies
        if sent and block.belief > UP and spec.availability is None:
            learned = replies / sent
            block.availability = 0.8 * availability + 0.2 * learned
        return sent

    async def _echo(self, sock: AsyncSocket, address: str, wait: float, block: BlockBelief) -> bool:
        """One echo request; whether the reply came (an ICMP error is kept in `block`)."""
        request = ICMPRequest(destination=address, id=_ident(), sequence=block.next_index & 0xFFFF)
        try:
            sock.send(request)
            reply = await sock.receive(request, wait)
        except (TimeoutExceeded, ICMPSocketError, OSError):
            return False
        if reply.type in _ECHO_REPLY:
            return True
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        block.report = ICMPReport(family, reply.type, reply.code, reply.source)
        return False

    def _conclude(
        self, spec: BlockSpec, blocks: dict[str, BlockBelief], sent: int, took: float
    ) -> Observation:
        up = sum(1 for b in blocks.values() if b.state == "up")
        down = [b for b in blocks.values() if b.state == "down"]
        detail: dict[str, Any] = {
            "blocks": {
                name: {
                    "belief": round(b.belief, 4),
                    "state": b.state,
                    "probes": b.probes,
                    "replies": b.replies,
                    "availability": round(b.availability or 0.8, 3),
                }
                for name, b in blocks.items()
            },
            "blocks_up": up,
            "blocks_watched": len(blocks),
            "probes": sent,
        }
        timings = {"total": took}
        if not down:
            return Observation(ok=True, outcome=Outcome.OK, timings=timings, detail=detail)
        outcome = Outcome.ICMP_TIMEOUT
        report = next((b.report for b in down if b.report is not None), None)
        if report is not None:
            detail["icmp"] = report.as_detail()
            named = classify_icmp(report.family, report.type, report.code)
            outcome = named if named is not Outcome.UNKNOWN else outcome
        return Observation(
            ok=False, outcome=outcome, phase=Phase.CONNECT, timings=timings, detail=detail
        )


def blocks_up_sample(spec: BlockSpec, observation: Observation, t: float) -> SignalSample:
    """The `blocks_up` signal of a round: blocks believed up / blocks watched."""
    watched = int(observation.detail.get("blocks_watched", 0))
    up = int(observation.detail.get("blocks_up", 0))
    return SignalSample(
        entity=spec.entity,
        signal="blocks_up",
        t=t,
        value=up / watched if watched else 0.0,
        source="block_probe",
    )


def _clamp_availability(a: float) -> float:
    # A reply-less round must be able to move the belief, and a lost reply not to
    # condemn a block at once: keep A away from 0 and 1.
    return min(0.95, max(0.1, a))


_ECHO_REPLY = frozenset((0, 129))
_idents = itertools.count((os.getpid() * 7) & 0x7FFF)


def _ident() -> int:
    """A fresh ICMP identifier per echo request, so concurrent rounds never mix replies."""
    return next(_idents) & 0xFFFF


def _open_socket(family6: bool) -> Any:
    """A raw ICMP socket (it also receives ICMP errors), else an unprivileged one."""
    socket_cls = ICMPv6Socket if family6 else ICMPv4Socket
    try:
        return socket_cls(privileged=True)
    except SocketPermissionError:
        return socket_cls(privileged=False)
