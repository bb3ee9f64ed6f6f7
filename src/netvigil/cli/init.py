"""`netvigil init [PATH]`: write a commented netvigil.toml to start from.

`--demo` writes a config that works offline: this machine watches the web server that
`netvigil run` itself starts (its health endpoint over HTTP, and its port over TCP), so
`netvigil init --demo && netvigil run` shows measurements within a minute. Without
`--demo`, the file is a template for one's own services, every setting explained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netvigil.cli._common import DEFAULT_CONFIG
from netvigil.errors import NetvigilError

__all__ = ["demo_config", "init", "template_config"]

DEMO_PORT = 8080


def demo_config(port: int = DEMO_PORT) -> str:
    """A config watching the web server `netvigil run` starts on 127.0.0.1:`port`."""
    return f"""\
# netvigil demo config, written by `netvigil init --demo`.
# Everything here runs offline: netvigil watches the web server it starts itself.
#   netvigil run                          probe, store, detect; dashboard on the port below
#   netvigil status                       the latest result of every target
#   netvigil export --format csv --since 2h
# The full reference is docs/configuration.md.

[vantage]
name = "local"              # this machine's name in measurements and reports

[defaults]
interval_s = 5              # seconds between two probes of a target
timeout_s = 3               # seconds one probe may take

[[services]]
name = "netvigil-web"
description = "the dashboard and API of this netvigil"

[[targets]]
name = "web-health"
service = "netvigil-web"
kind = "http"
url = "http://127.0.0.1:{port}/api/v1/health"

[[targets]]
name = "web-port"
service = "netvigil-web"
kind = "tcp"
host = "127.0.0.1"
port = {port}

# A control target: a known-good endpoint that tells whether this vantage itself works.
[[targets]]
name = "loopback-control"
control = true
kind = "tcp"
host = "127.0.0.1"
port = {port}

# Uncomment to watch an incident open: nothing listens on port 9 here, so every
# probe ends in tcp_refused and, after a few, netvigil reports the service down.
# [[services]]
# name = "nothing-here"
# [[targets]]
# name = "closed-port"
# service = "nothing-here"
# kind = "tcp"
# host = "127.0.0.1"
# port = 9

[store]
path = "netvigil.db"        # relative to this file's folder

[server]
listen = "127.0.0.1:{port}"  # dashboard at http://127.0.0.1:{port}/
"""


def template_config() -> str:
    """A commented template for one's own services (example names to replace)."""
    return """\
# netvigil config, written by `netvigil init`. Replace the examples with your services,
# then `netvigil config check netvigil.toml` and `netvigil run`.
# The full reference is docs/configuration.md.

[vantage]
name = "my-vantage"         # where this process probes from, e.g. a city or provider
# country = "AL"            # a two-letter country code
in_country = true           # inside the watched country? (filtering is judged from there)

[defaults]
interval_s = 60             # seconds between two probes of a target
timeout_s = 10              # seconds one probe may take

# Who runs services, and where they are hosted (both optional, but they let netvigil
# tell one service crashing from a whole network going down).
[[organizations]]
name = "example-org"

[[networks]]
name = "example-net"
# asn = 64500
# prefixes = ["192.0.2.0/24"]

# What people use. Every target measures one service.
[[services]]
name = "example-portal"
organization = "example-org"
network = "example-net"

[[targets]]
name = "portal-https"
service = "example-portal"
kind = "http"                 # http, tcp, dns, icmp or tls
url = "https://www.example.org/"
# expect_status = [200]
# keyword = "Welcome"

[[targets]]
name = "portal-tls"
service = "example-portal"
kind = "tls"
host = "www.example.org"
port = 443

[[targets]]
name = "portal-dns"
service = "example-portal"
kind = "dns"
resolver = "9.9.9.9"          # an IP address, never a name
qname = "www.example.org"
qtype = "A"

# Control targets: known-good endpoints that tell whether this vantage itself works.
[[targets]]
name = "control-dns"
control = true
kind = "dns"
resolver = "1.1.1.1"
qname = "example.com"

[store]
path = "netvigil.db"        # relative to this file's folder
retention_days = 30

[server]
listen = "127.0.0.1:8080"   # dashboard, API and public status page
"""


def init(
    path: Annotated[
        Path, typer.Argument(help="Where to write the config.", show_default=True)
    ] = DEFAULT_CONFIG,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="A config that works offline, watching netvigil itself."),
    ] = False,
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Web server port of the --demo config.")
    ] = DEMO_PORT,
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """Write a commented config: a template for your services, or with --demo one that
    works offline; both pass `netvigil config check`."""
    if path.exists() and not force:
        raise NetvigilError(f"{path}: already exists (pass --force to overwrite it)")
    text = demo_config(port) if demo else template_config()
    path.write_text(text, encoding="utf-8")
    run = "netvigil run" if path == DEFAULT_CONFIG else f"netvigil run -c {path}"
    what = "a demo that works offline" if demo else "a template: put your services in it"
    typer.echo(f"wrote {path} ({what}); start it with `{run}`")
