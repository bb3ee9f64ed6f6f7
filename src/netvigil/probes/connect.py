"""TCP connect that keeps the ICMP error behind a failure.

Linux reports an ICMP error on a connecting TCP socket only as an errno, and the errno
cannot tell "administratively prohibited" from "host unreachable" (both EHOSTUNREACH).
With IP_RECVERR / IPV6_RECVERR set, the kernel also queues a `sock_extended_err` holding
the ICMP type and code; `open_tcp` reads it and raises `ICMPError` carrying that report.

`connect` takes the event loop's fast path (a new connection costs about half the CPU
of `open_tcp`) and only on an ambiguous errno repeats the attempt with `open_tcp`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import struct
from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from netvigil.probes.classify import ICMPError, ICMPReport

__all__ = [
    "address_family",
    "connect",
    "diagnose_icmp",
    "is_ip_literal",
    "open_tcp",
    "read_icmp_report",
]

_P = TypeVar("_P", bound=asyncio.BaseProtocol)

DIAGNOSE_S = 1.0
"""Longest wait for the ICMP report of a second connection attempt."""

# Errors an ICMP message may be behind: the errno hides which one, and who sent it.
_ICMP_ERRNOS = frozenset((errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES))

IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3
_EE = struct.Struct("=IBBBBII")  # ee_errno, ee_origin, ee_type, ee_code, ee_pad, ee_info, ee_data


@lru_cache(maxsize=4096)
def is_ip_literal(host: str) -> bool:
    """Whether `host` is an IPv4 or IPv6 address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def address_family(address: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 address, AF_INET otherwise."""
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _sender(origin: int, raw: bytes) -> str | None:
    try:
        if origin == SO_EE_ORIGIN_ICMP and len(raw) >= 8:
            return socket.inet_ntop(socket.AF_INET, raw[4:8])
        if origin == SO_EE_ORIGIN_ICMP6 and len(raw) >= 24:
            return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    except (OSError, ValueError):
        return None
    return None


def read_icmp_report(sock: socket.socket) -> ICMPReport | None:
    """The ICMP error queued on `sock` (needs IP_RECVERR/IPV6_RECVERR), or None."""
    try:
        _, ancdata, _, _ = sock.recvmsg(1, 512, MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except OSError:
        return None
    for _level, _type, data in ancdata:
        if len(data) < _EE.size:
            continue
        _, origin, icmp_type, code, _, _, _ = _EE.unpack_from(data)
        if origin == SO_EE_ORIGIN_ICMP:
            return ICMPReport(socket.AF_INET, icmp_type, code, _sender(origin, data[_EE.size :]))
        if origin == SO_EE_ORIGIN_ICMP6:
            return ICMPReport(socket.AF_INET6, icmp_type, code, _sender(origin, data[_EE.size :]))
    return None


def new_tcp_socket(family: socket.AddressFamily) -> socket.socket:
    """A non-blocking TCP socket that records ICMP errors and sends small writes at once."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_tcp(address: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket to `address`:`port`.

    Raises OSError (ICMPError when the kernel kept an ICMP report) on failure; the
    caller bounds the wait (cancellation closes the socket).
    """
    loop = asyncio.get_running_loop()
    family = address_family(address)
    sock = new_tcp_socket(family)
    try:
        await loop.sock_connect(sock, (address, port))
    except OSError as exc:
        report = read_icmp_report(sock)
        sock.close()
        if report is not None and exc.errno is not None:
            raise ICMPError(exc.errno, exc.strerror or str(exc), report) from exc
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()
        raise
    return sock


async def diagnose_icmp(address: str, port: int, *, wait_s: float = 1.0) -> ICMPReport | None:
    """Connect again with IP_RECVERR set and return the ICMP report the kernel queues, if any.

    Gives up after `wait_s` (a router may rate-limit its ICMP errors and stay silent).
    """
    try:
        async with asyncio.timeout(wait_s):
            sock = await open_tcp(address, port)
    except ICMPError as exc:
        return exc.report
    except (OSError, TimeoutError):
        return None
    sock.close()
    return None


async def connect(
    address: str,
    port: int,
    protocol_factory: Callable[[], _P],
    *,
    deadline: float | None = None,
) -> tuple[asyncio.Transport, _P]:
    """A TCP connection through the event loop's fast path (one C call under uvloop).

    When it fails with EHOSTUNREACH, ENETUNREACH or EACCES, a second attempt on a socket with
    IP_RECVERR learns the ICMP type and code (e.g. administratively prohibited), and an
    ICMPError carrying them is raised. The second attempt takes at most 1 s and at most
    half of what is left before `deadline` (event-loop time). The caller bounds the wait.
    """
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_connection(protocol_factory, address, port)
    except OSError as exc:
        if exc.errno not in _ICMP_ERRNOS:
            raise
        wait_s = DIAGNOSE_S
        if deadline is not None:
            wait_s = min(wait_s, max(0.0, (deadline - loop.time()) / 2))
        report = await diagnose_icmp(address, port, wait_s=wait_s) if wait_s > 0 else None
        if report is None:
            raise
        raise ICMPError(exc.errno, exc.strerror or str(exc), report) from exc
