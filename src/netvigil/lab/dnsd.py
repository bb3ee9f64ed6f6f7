"""The lab's DNS server: authoritative for its zones, or a public resolver over the lab data.

Both modes read one JSON file of zone data written by the lab:

    {"ttl": 60,
     "records": {"e-albania.gov.al.lab.": {"A": ["192.0.2.2"], "AAAA": ["2001:db8:1::2"]}},
     "zones": {"gov.al.lab.": "192.0.2.5"}}

`--authoritative ZONE` answers names inside ZONE (NXDOMAIN for unknown names there,
REFUSED outside). `--resolver` answers every lab name; for names in a delegated zone it
first asks the zone's authoritative server and, when that does not answer in time,
serves the answer it knows (serve-stale, RFC 8767), as big public resolvers do.
SIGUSR1 makes the server answer every query SERVFAIL until SIGUSR2 (a resolver passes
its authority's SERVFAIL on).

    python -m netvigil.lab.dnsd --data zones.json --authoritative gov.al.lab
    python -m netvigil.lab.dnsd --data zones.json --resolver
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from netvigil.shutdown import stop_event

__all__ = ["DNSHandler", "main"]

UPSTREAM_TIMEOUT_S = 0.4


class DNSHandler:
    """Turns one query into one response from the zone data."""

    def __init__(self, data: dict[str, Any], *, zones: Sequence[str], resolver: bool) -> None:
        self.ttl = int(data.get("ttl", 60))
        self.records: dict[dns.name.Name, dict[str, list[str]]] = {
            dns.name.from_text(k): v for k, v in data.get("records", {}).items()
        }
        self.delegations = {dns.name.from_text(k): v for k, v in data.get("zones", {}).items()}
        self.zones = [dns.name.from_text(z) for z in zones]
        self.resolver = resolver
        self.servfail = False
        """While set, every query is answered SERVFAIL (SIGUSR1 sets it, SIGUSR2 clears it:
        the `dns_servfail` fault)."""

    async def handle(self, wire: bytes) -> bytes | None:
        """The response to one query in wire format; None for garbage."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        if self.servfail:
            failed = dns.message.make_response(query)
            failed.set_rcode(dns.rcode.SERVFAIL)
            return failed.to_wire()
        if self.resolver:
            forwarded = await self._forward(query, question.name)
            if forwarded is not None:
                return forwarded
        response = dns.message.make_response(query)
        if self.resolver:
            response.flags |= dns.flags.RA
        elif not any(question.name.is_subdomain(z) for z in self.zones):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        else:
            response.flags |= dns.flags.AA
        self._answer(response, question.name, question.rdtype)
        return response.to_wire()

    async def _forward(self, query: dns.message.Message, qname: dns.name.Name) -> bytes | None:
        for zone, server in self.delegations.items():
            if qname.is_subdomain(zone):
                try:
                    reply = await dns.asyncquery.udp(query, server, timeout=UPSTREAM_TIMEOUT_S)
                except (dns.exception.DNSException, OSError):
                    return None  # serve stale from the data we hold
                reply.flags |= dns.flags.RA
                reply.flags &= ~dns.flags.AA
                return reply.to_wire()
        return None

    def _answer(self, response: dns.message.Message, qname: dns.name.Name, rdtype: int) -> None:
        entry = self.records.get(qname)
        if entry is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return
        type_name = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))
        values = entry.get(type_name, [])
        if values:
            rrset = dns.rrset.from_text_list(qname, self.ttl, "IN", type_name, values)
            response.answer.append(rrset)


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, handler: DNSHandler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        task = asyncio.ensure_future(self._reply(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        out = await self.handler.handle(data)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


async def serve(args: argparse.Namespace, data: dict[str, Any]) -> None:
    """Serve UDP and TCP on port `args.port` of every address until SIGTERM."""
    handler = DNSHandler(data, zones=args.authoritative or [], resolver=args.resolver)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, setattr, handler, "servfail", True)
    loop.add_signal_handler(signal.SIGUSR2, setattr, handler, "servfail", False)

    async def on_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                out = await handler.handle(await reader.readexactly(size))
                if out is None:
                    break
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    transports = []
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, args.port))
        transport, _ = await loop.create_datagram_endpoint(lambda: _UDP(handler), sock=sock)
        transports.append(transport)
    servers = [await asyncio.start_server(on_tcp, host, args.port) for host in ("0.0.0.0", "::")]
    await stop_event().wait()
    for t in transports:
        t.close()
    for s in servers:
        s.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="netvigil.lab.dnsd")
    parser.add_argument("--data", required=True, help="zone data JSON file")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--authoritative", action="append", metavar="ZONE")
    parser.add_argument("--resolver", action="store_true")
    args = parser.parse_args(argv)
    if not args.resolver and not args.authoritative:
        parser.error("give --resolver or at least one --authoritative ZONE")
    asyncio.run(serve(args, json.loads(Path(args.data).read_text())))


if __name__ == "__main__":
    main()
