"""ICMP echo probe: RTT and loss over a small burst, and the ICMP error when one comes back."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from time import perf_counter
from typing import Any, ClassVar, Literal

from icmplib import (
    AsyncSocket,
    ICMPRequest,
    ICMPSocketError,
    ICMPv4Socket,
    ICMPv6Socket,
    SocketPermissionError,
    TimeoutExceeded,
)
from pydantic import Field

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.classify import ICMPReport, classify_icmp, failure
from netvigil.probes.connect import address_family
from netvigil.probes.context import ProbeContext

__all__ = ["ICMPProbe", "ICMPSpec"]


class ICMPSpec(TargetBase):
    """`count` echo requests to `host`, `packet_interval_s` apart.

    ok when at least one reply arrives; loss and RTTs are in detail.
    """

    kind: Literal["icmp"] = "icmp"
    host: str = Field(min_length=1)
    count: int = Field(default=3, ge=1, le=20)
    packet_interval_s: float = Field(default=0.2, ge=0.01, le=5)

    @property
    def destination(self) -> str:
        return self.host


class ICMPProbe:
    """Sends a burst of echo requests (icmplib) and reports RTTs, loss and ICMP errors.

    A raw socket is used when the process may open one (root or CAP_NET_RAW): only a raw
    socket receives the ICMP errors (destination unreachable, time exceeded) a router or
    firewall sends back. Otherwise an unprivileged ICMP datagram socket is used, which
    sees echo replies only, so an error report then shows as `icmp_timeout`.

    detail: `sent`, `received`, `loss` (0..1), `rtts_ms`, `privileged`, and `icmp`
    (version, type, code, from) when an ICMP error came back.
    """

    kind: ClassVar[str] = "icmp"

    def __init__(self, context: ProbeContext | None = None) -> None:
        self._context = context or ProbeContext()
        self._privileged: bool | None = None

    async def close(self) -> None:
        """Release nothing: every burst uses its own socket."""

    def _open(self, address: str) -> Any:
        family6 = address_family(address) == socket.AF_INET6
        socket_cls = ICMPv6Socket if family6 else ICMPv4Socket
        if self._privileged is None:
            try:
                sock = socket_cls(privileged=True)
            except SocketPermissionError:
                self._privileged = False
            else:
                self._privileged = True
                return sock
        return socket_cls(privileged=self._privileged)

    async def measure(self, spec: ICMPSpec) -> Observation:
        """One burst of `spec.count` echo requests, within `spec.timeout_s`."""
        loop = asyncio.get_running_loop()
        start = perf_counter()
        deadline = loop.time() + spec.timeout_s
        timings: dict[str, float] = {}
        detail: dict[str, Any] = {}
        burst = _Burst()
        try:
            async with asyncio.timeout_at(deadline):
                burst.address = await self._context.address_of(spec.host, timings, start)
                burst.phase = Phase.CONNECT
                await self._send_burst(spec, burst, burst.address, deadline)
        except ICMPSocketError as exc:
            # icmplib wraps the OSError from sendto (ENETUNREACH, EHOSTUNREACH...).
            cause = exc.__cause__ or exc.__context__
            timings["total"] = perf_counter() - start
            return failure(
                cause if isinstance(cause, OSError) else exc,
                burst.phase,
                timings=timings,
                detail=detail,
                address=burst.address,
            )
        except TimeoutError:
            pass  # the burst ran out of time: what arrived so far is the result
        except Exception as exc:  # every failure becomes data
            timings["total"] = perf_counter() - start
            return failure(exc, burst.phase, timings=timings, detail=detail, address=burst.address)
        timings["total"] = perf_counter() - start
        return self._conclude(burst, timings, detail)

    async def _send_burst(
        self, spec: ICMPSpec, burst: _Burst, address: str, deadline: float
    ) -> None:
        """Send the echo requests one by one, recording each reply or error in `burst`."""
        loop = asyncio.get_running_loop()
        family = address_family(address)
        wait = max(
            0.05,
            (deadline - loop.time() - (spec.count - 1) * spec.packet_interval_s) / spec.count,
        )
        ident = _next_ident()
        with AsyncSocket(self._open(address)) as sock:
            for seq in range(spec.count):
                if seq:
                    await asyncio.sleep(spec.packet_interval_s)
                request = ICMPRequest(destination=address, id=ident, sequence=seq)
                sock.send(request)
                burst.sent += 1
                try:
                    reply = await sock.receive(request, wait)
                except TimeoutExceeded:
                    continue
                if reply.type in _ECHO_REPLY:
                    burst.rtts.append((reply.time - request.time) * 1000.0)
                else:
                    burst.report = ICMPReport(family, reply.type, reply.code, reply.source)

    def _conclude(
        self, burst: _Burst, timings: dict[str, float], detail: dict[str, Any]
    ) -> Observation:
        """The Observation of a burst that ran (to its end or its deadline)."""
        rtts = burst.rtts
        sent = burst.sent
        address = burst.address
        received = len(rtts)
        detail.update(
            sent=sent,
            received=received,
            loss=round(1 - received / sent, 4) if sent else 1.0,
            rtts_ms=[round(r, 3) for r in rtts],
            privileged=bool(self._privileged),
        )
        if rtts:
            timings["rtt"] = min(rtts) / 1000.0
            return Observation(
                ok=True, outcome=Outcome.OK, timings=timings, detail=detail, address=address
            )
        if address is None:
            return failure(
                TimeoutError("name resolution timed out"),
                Phase.RESOLVE,
                timings=timings,
                detail=detail,
                address=address,
            )
        outcome = Outcome.ICMP_TIMEOUT
        report = burst.report
        if report is not None:
            detail["icmp"] = report.as_detail()
            named = classify_icmp(report.family, report.type, report.code)
            if named is not Outcome.UNKNOWN:
                outcome = named
        return Observation(
            ok=False,
            outcome=outcome,
            phase=Phase.CONNECT,
            timings=timings,
            detail=detail,
            address=address,
        )


class _Burst:
    """What a burst has got to: its phase, address, packets sent, RTTs (ms), ICMP error."""

    __slots__ = ("address", "phase", "report", "rtts", "sent")

    def __init__(self) -> None:
        self.phase = Phase.RESOLVE
        self.address: str | None = None
        self.sent = 0
        self.rtts: list[float] = []
        self.report: ICMPReport | None = None


_ECHO_REPLY = frozenset((0, 129))
_ident = itertools.count(os.getpid() & 0x7FFF)


def _next_ident() -> int:
    """A fresh ICMP identifier per burst so concurrent bursts never match each other."""
    return next(_ident) & 0xFFFF
