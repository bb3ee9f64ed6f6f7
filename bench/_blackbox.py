"""Prometheus blackbox_exporter under load: its config, its process, and its /probe driver.

The exporter runs with a config we write (modules http_2xx, https, tcp_connect, dns,
icmp) and listens on 127.0.0.1. The C client (keep-alive mode) drives its /probe
endpoint with many concurrent requests, so the driver's cost stays small and is not
counted: only the exporter's own CPU (/proc/<pid>/stat) is.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from _proc import cpu_of, rss_mb

__all__ = ["BLACKBOX", "Blackbox", "BlackboxRun", "config_text"]

BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"


def config_text(ca_file: Path, *, timeout_s: float = 5.0) -> str:
    """The exporter's config: one module per probe kind, IPv4 only, no fallback."""
    t = f"{timeout_s:g}s"
    ip4 = "      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n"
    return (
        "modules:\n"
        f"  http_2xx:\n    prober: http\n    timeout: {t}\n    http:\n{ip4}"
        f"  https:\n    prober: http\n    timeout: {t}\n    http:\n{ip4}"
        "      fail_if_not_ssl: true\n"
        f"      tls_config:\n        ca_file: {ca_file}\n"
        f"  tcp_connect:\n    prober: tcp\n    timeout: {t}\n    tcp:\n{ip4}"
        f"  dns:\n    prober: dns\n    timeout: {t}\n    dns:\n{ip4}"
        "      query_name: bench.netvigil.test\n      query_type: A\n"
        "      transport_protocol: udp\n      valid_rcodes: [NOERROR]\n"
        f"  icmp:\n    prober: icmp\n    timeout: {t}\n    icmp:\n{ip4}"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class BlackboxRun:
    """One driven burst of /probe requests and what the exporter spent on it."""

    module: str
    probes: int
    ok: int
    wall_s: float
    cpu_s: float
    driver_cpu_s: float
    rss_mb: float

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "module": self.module,
            "probes": self.probes,
            "ok": self.ok,
            "wall_s": round(self.wall_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "driver_cpu_s": round(self.driver_cpu_s, 4),
            "rss_mb": round(self.rss_mb, 1),
            "checks_per_s": round(self.probes / self.wall_s, 1) if self.wall_s else 0.0,
            "cpu_s_per_1000": round(1000 * self.cpu_s / self.probes, 4) if self.probes else 0.0,
        }


class Blackbox:
    """A running blackbox_exporter and a way to drive it.

    Raises RuntimeError from `start()` when the exporter does not answer within 10 s.
    """

    def __init__(self, workdir: Path, client: Path, ca_file: Path) -> None:
        self.workdir = workdir
        self.client = client
        self.config = workdir / "blackbox.yml"
        self.config.write_text(config_text(ca_file))
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Blackbox:
        log = (self.workdir / "blackbox.log").open("wb")
        cmd = [BLACKBOX, f"--config.file={self.config}"]
        cmd += [f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=error"]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"blackbox_exporter exited ({self.proc.returncode})")
            try:
                url = f"http://127.0.0.1:{self.port}/-/healthy"
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("blackbox_exporter did not answer on /-/healthy within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def drive(
        self,
        module: str,
        targets: list[str],
        *,
        duration_s: float,
        max_probes: int,
        concurrency: int = 32,
    ) -> BlackboxRun:
        """Send /probe requests for `targets` round-robin, `concurrency` at a time.

        Stops after `max_probes` probes or `duration_s` seconds, whichever comes first.
        A probe counts as ok when the exporter reports `probe_success 1`.
        """
        assert self.proc is not None, "start() first"
        lines = self.workdir / f"probe-{module}.txt"
        with lines.open("w") as f:
            for target in targets:
                path = f"/probe?module={module}&target={quote(target, safe='')}"
                f.write(f"127.0.0.1 {self.port} {path}\n")
        cmd = [str(self.client), "-f", str(lines), "-k", "-m", "probe_success 1"]
        cmd += ["-c", str(concurrency), "-n", str(max_probes), "-d", str(duration_s)]
        before = cpu_of(self.proc.pid)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        after = cpu_of(self.proc.pid)
        result = json.loads(out.stdout)
        if out.stderr:
            (self.workdir / f"probe-{module}-failures.txt").write_text(out.stderr)
        return BlackboxRun(
            module=module,
            probes=int(result["requests"]),
            ok=int(result["ok"]),
            wall_s=float(result["wall_s"]),
            cpu_s=(after - before).total_s,
            driver_cpu_s=float(result["cpu_s"]),
            rss_mb=rss_mb(self.proc.pid),
        )

    def __enter__(self) -> Blackbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
