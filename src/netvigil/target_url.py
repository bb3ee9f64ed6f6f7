"""Ad-hoc targets written as URLs, as `netvigil check` takes them.

    https://host/path   http://host/path     an HTTP(S) fetch
    tcp://host:port                          a TCP connect
    tls://host[:port]                        a TLS handshake (port 443 by default)
    icmp://host                              an ICMP echo burst
    dns://resolver[:port]/name?type=A        a DNS query sent to `resolver`

IPv6 addresses go in brackets: `tcp://[::1]:8080`, `dns://[::1]:5353/example.org`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pydantic import TypeAdapter, ValidationError

from netvigil.config.load import validation_problems
from netvigil.errors import ConfigError
from netvigil.probes import TargetSpec

__all__ = ["parse_target_url", "parse_target_urls"]

_SPEC_ADAPTER: TypeAdapter[TargetSpec] = TypeAdapter(TargetSpec)
_SCHEMES = ("http", "https", "tcp", "tls", "icmp", "dns")
_SCHEME_LIST = ", ".join(s + "://" for s in _SCHEMES)


def parse_target_url(
    text: str, *, timeout_s: float | None = None, source: str = "argument"
) -> TargetSpec:
    """Turn one target URL into a target spec. Raises ConfigError naming `source`."""
    text = text.strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            source,
            [
                (
                    text,
                    f"unknown scheme {parts.scheme!r}; use one of {_SCHEME_LIST}",
                )
            ],
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(source, [(text, "invalid port")]) from None
    host = parts.hostname
    if not host:
        raise ConfigError(source, [(text, "no host")])
    raw: dict[str, object] = {"name": text}
    if timeout_s is not None:
        raw["timeout_s"] = timeout_s
    if scheme in ("http", "https"):
        raw.update(kind="http", url=text)
    elif scheme == "tcp":
        if port is None:
            raise ConfigError(source, [(text, "tcp:// needs a port, e.g. tcp://host:443")])
        raw.update(kind="tcp", host=host, port=port)
    elif scheme == "tls":
        raw.update(kind="tls", host=host, port=port or 443)
    elif scheme == "icmp":
        raw.update(kind="icmp", host=host)
    else:
        qname = parts.path.strip("/")
        if not qname:
            raise ConfigError(
                source, [(text, "dns:// needs a name to query, e.g. dns://9.9.9.9/example.org")]
            )
        query = parse_qs(parts.query)
        unknown = set(query) - {"type", "transport"}
        if unknown:
            raise ConfigError(
                source, [(text, f"unknown query parameter(s): {', '.join(sorted(unknown))}")]
            )
        raw.update(kind="dns", resolver=host, port=port or 53, qname=qname)
        if "type" in query:
            raw["qtype"] = query["type"][-1]
        if "transport" in query:
            raw["transport"] = query["transport"][-1]
    try:
        return _SPEC_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        problems = [
            (f"{text}: {loc}" if loc else text, msg) for loc, msg in validation_problems(exc)
        ]
        raise ConfigError(source, problems) from exc


def parse_target_urls(
    lines: list[str], *, source: str, timeout_s: float | None = None
) -> list[TargetSpec]:
    """Parse target URLs one per line (blank lines and `#` comments skipped).

    Every bad line is reported, each with its line number. Raises ConfigError.
    """
    specs: list[TargetSpec] = []
    problems: list[tuple[str, str]] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            specs.append(parse_target_url(text, timeout_s=timeout_s, source=source))
        except ConfigError as exc:
            problems.extend((f"line {number}: {loc}", msg) for loc, msg in exc.problems)
    if problems:
        raise ConfigError(source, problems)
    return specs
