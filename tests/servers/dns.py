"""A small authoritative DNS server on loopback (dnspython), answering per name over UDP and TCP.

Default zone (names are case-insensitive, with or without the final dot):
    ok.test.        A 192.0.2.10, AAAA 2001:db8::10
    web.test.       A 127.0.0.1, AAAA ::1 (for probes that then connect)
    nx.test.        NXDOMAIN
    fail.test.      SERVFAIL
    refused.test.   REFUSED
    empty.test.     NOERROR with no answer
    silent.test.    no reply at all
Any other name is NXDOMAIN.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

SILENT = "silent"

DEFAULT_ZONE: dict[str, object] = {
    "ok.test.": {"A": ["192.0.2.10"], "AAAA": ["2001:db8::10"]},
    "web.test.": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "nx.test.": dns.rcode.NXDOMAIN,
    "fail.test.": dns.rcode.SERVFAIL,
    "refused.test.": dns.rcode.REFUSED,
    "empty.test.": {},
    "silent.test.": SILENT,
}


@dataclass
class DNSServer:
    """Where the server listens and how many queries it has seen."""

    host: str
    port: int
    queries: list[str] = field(default_factory=list)


def answer(zone: dict[str, object], wire: bytes, seen: list[str]) -> bytes | None:
    """The reply to one query in wire format, or None to stay silent."""
    query = dns.message.from_wire(wire)
    question = query.question[0]
    name = question.name.to_text().lower()
    seen.append(name)
    rule = zone.get(name, dns.rcode.NXDOMAIN)
    if rule == SILENT:
        return None
    reply = dns.message.make_response(query)
    reply.flags |= dns.flags.AA
    if isinstance(rule, dict):
        qtype = dns.rdatatype.to_text(question.rdtype)
        values = rule.get(qtype, [])
        if values:
            reply.answer.append(dns.rrset.from_text_list(name, 60, "IN", qtype, values))
    else:
        reply.set_rcode(int(rule))  # type: ignore[call-overload]
    return reply.to_wire()


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, zone: dict[str, object], seen: list[str]) -> None:
        self.zone = zone
        self.seen = seen
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = answer(self.zone, data, self.seen)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


@asynccontextmanager
async def serve_dns(
    host: str = "127.0.0.1", zone: dict[str, object] | None = None
) -> AsyncIterator[DNSServer]:
    """Serve `zone` (default DEFAULT_ZONE) over UDP and TCP on one free port of `host`."""
    zone = DEFAULT_ZONE if zone is None else zone
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(20):
        udp_sock = socket.socket(family, socket.SOCK_DGRAM)
        udp_sock.bind((host, 0))
        port = udp_sock.getsockname()[1]
        tcp_sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            tcp_sock.bind((host, port))
        except OSError:
            udp_sock.close()
            tcp_sock.close()
            continue
        break
    else:
        raise RuntimeError("no free port for the DNS test server")
    tcp_sock.listen(16)
    tcp_sock.setblocking(False)
    state = DNSServer(host=host, port=port)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = answer(zone, await reader.readexactly(length), state.queries)
                if reply is None:
                    await asyncio.sleep(3600)
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        writer.close()

    transport, _ = await loop.create_datagram_endpoint(
        lambda: _UDP(zone, state.queries), sock=udp_sock
    )
    server = await asyncio.start_server(handle, sock=tcp_sock)
    try:
        yield state
    finally:
        transport.close()
        server.close()
        with suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)
