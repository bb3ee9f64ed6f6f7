"""`dns_servfail`: the zone's authoritative DNS server answers, but every answer is SERVFAIL
(a broken zone or a failing back end: the server is up, the names do not resolve).
The lab's DNS server switches to SERVFAIL on SIGUSR1 and back on SIGUSR2."""

from __future__ import annotations

import signal

from netvigil.lab.faults.base import register
from netvigil.lab.faults.dns_outage import SignalledDNSServer

__all__ = ["DNSServfail"]


@register
class DNSServfail(SignalledDNSServer):
    kind = "dns_servfail"
    apply_signal = signal.SIGUSR1
    undo_signal = signal.SIGUSR2
