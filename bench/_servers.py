"""Target servers for the probe benchmarks: C programs on many loopback addresses.

`build()` compiles bench/c_httpd.c, c_dnsd.c and c_client.c with `gcc -O2` into a
work directory. `Lab` starts an HTTP/HTTPS server (c_httpd, epoll, OpenSSL) and a UDP
DNS responder (c_dnsd) bound on addresses 127.10.0.1, 127.10.0.2, ... and stops them.
ICMP needs no server: every 127.0.0.0/8 address answers echo requests natively.
Only 127.0.0.0/8 addresses are ever used; the C programs refuse anything else.
"""

from __future__ import annotations

import ipaddress
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import trustme

__all__ = ["DNS_PORT", "HTTPS_PORT", "HTTP_PORT", "Lab", "address", "build"]

BENCH_DIR = Path(__file__).resolve().parent
HTTP_PORT = 18080
HTTPS_PORT = 18443
DNS_PORT = 15353
_BASE = int(ipaddress.IPv4Address("127.10.0.0"))
_PROGRAMS = {"c_httpd": ["-lssl", "-lcrypto"], "c_dnsd": [], "c_client": []}


def address(i: int) -> str:
    """The i-th benchmark address (i >= 0): 127.10.0.1, 127.10.0.2, ..., skipping x.x.x.0/255."""
    host = _BASE + (i // 254) * 256 + (i % 254) + 1
    addr = ipaddress.IPv4Address(host)
    if addr not in ipaddress.IPv4Network("127.0.0.0/8"):
        raise ValueError(f"address index {i} leaves 127.0.0.0/8")
    return str(addr)


def build(workdir: Path) -> dict[str, Path]:
    """Compile the C programs into `workdir`; returns name -> executable.

    Raises subprocess.CalledProcessError when gcc fails.
    """
    out: dict[str, Path] = {}
    for name, libs in _PROGRAMS.items():
        exe = workdir / name
        cmd = ["gcc", "-O2", "-o", str(exe), str(BENCH_DIR / f"{name}.c"), *libs]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        out[name] = exe
    return out


@dataclass
class Lab:
    """The running target servers and what a probe needs to reach them.

    `http_addresses` listen for HTTP on HTTP_PORT (also the TCP-connect targets),
    `https_addresses` for HTTPS on HTTPS_PORT with a certificate for each address signed
    by a test CA (`ca_file`), `dns_addresses` answer DNS on DNS_PORT.
    """

    workdir: Path
    exes: dict[str, Path]
    n_http: int = 256
    n_https: int = 64
    n_dns: int = 64
    http_workers: int = 1
    max_seconds: int = 3600
    ca_file: Path = field(init=False)
    _procs: list[subprocess.Popen[str]] = field(default_factory=list, init=False)

    @property
    def http_addresses(self) -> list[str]:
        return [address(i) for i in range(self.n_http)]

    @property
    def https_addresses(self) -> list[str]:
        return [address(i) for i in range(self.n_https)]

    @property
    def dns_addresses(self) -> list[str]:
        return [address(i) for i in range(self.n_dns)]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def start(self) -> Lab:
        """Write certificates and listen files, start the servers, wait until they listen.

        Raises RuntimeError when a server does not come up.
        """
        ca = trustme.CA()
        cert = ca.issue_cert(*self.https_addresses, "bench.netvigil.test")
        self.ca_file = self.workdir / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert_file, key_file = self.workdir / "cert.pem", self.workdir / "key.pem"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(cert_file), append=True)
        cert.private_key_pem.write_to_path(str(key_file))

        listen = self.workdir / "listen.txt"
        lines = [f"http {a} {HTTP_PORT}" for a in self.http_addresses]
        lines += [f"https {a} {HTTPS_PORT}" for a in self.https_addresses]
        lines += [f"dns {a} {DNS_PORT}" for a in self.dns_addresses]
        listen.write_text("\n".join(lines) + "\n")
        httpd = [str(self.exes["c_httpd"]), "-l", str(listen), "-c", str(cert_file)]
        httpd += ["-k", str(key_file), "-w", str(self.http_workers), "-t", str(self.max_seconds)]
        dnsd = [str(self.exes["c_dnsd"]), "-l", str(listen), "-t", str(self.max_seconds)]
        for cmd in (httpd, dnsd):
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            self._procs.append(proc)
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                self.stop()
                raise RuntimeError(f"{Path(cmd[0]).name} did not start (exit {proc.poll()})")
        return self

    def stop(self) -> None:
        """Stop every server (SIGTERM, then SIGKILL after 5 s)."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
