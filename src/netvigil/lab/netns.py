"""Network namespace plumbing: namespaces, veth links, bridges, routes, rules and processes.

Everything the lab creates carries the `nv-` prefix, so `remove_everything()` can find
and remove it all, also after a crash. Commands are iproute2/iptables run through
subprocess; a failing command raises LabError with the command and its stderr.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from netvigil.errors import LabError

__all__ = [
    "PREFIX",
    "PREFIX_PATTERN",
    "check_prefix",
    "check_support",
    "exec_argv",
    "has_netem",
    "is_running",
    "kill_pids",
    "list_links",
    "list_namespaces",
    "namespace_pids",
    "remove_everything",
    "run",
    "write_resolv_conf",
]

PREFIX = "nv-"
PREFIX_PATTERN = re.compile(r"^nv-(?:[a-z0-9]{1,8}-)?$")
"""Lab prefixes: `nv-` (the default), or `nv-<up to 8 of a-z0-9>-` for a lab of its own."""
NETNS_ETC = Path("/etc/netns")
REQUIRED_TOOLS = ("ip", "tc", "iptables", "ip6tables", "bird", "birdc")
"""iproute2 and iptables build the lab; BIRD 2 (bird2) routes between its networks."""


def check_prefix(prefix: str) -> str:
    """`prefix` when it is a valid lab prefix (see PREFIX_PATTERN). Raises LabError."""
    if not PREFIX_PATTERN.match(prefix):
        raise LabError(
            f"lab prefix {prefix!r} is not `nv-` or `nv-<1 to 8 of a-z, 0-9>-` (e.g. `nv-a-`)"
        )
    return prefix


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 20.0) -> str:
    """Run a command, return its stdout. Raises LabError when it fails and `check` is set."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        hint = "install iproute2, iptables and bird2"
        raise LabError(f"command not found: {argv[0]} ({hint})") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"command timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise LabError(
            f"command failed ({proc.returncode}): {' '.join(argv)}: {proc.stderr.strip()}"
        )
    return proc.stdout


def exec_argv(namespace: str, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` inside `namespace` (with its /etc/netns resolv.conf)."""
    return ["ip", "netns", "exec", namespace, *argv]


def check_support() -> None:
    """Check that this process can build a lab. Raises LabError: what is missing, how to get it."""
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(
            f"the lab needs {', '.join(missing)}; install them with "
            "`apt-get install iproute2 iptables bird2` (Debian/Ubuntu) or your system's equivalent"
        )
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root to create network namespaces; run it as root "
            "(e.g. `sudo netvigil lab up`) or in a container started with --privileged"
        )
    probe = f"{PREFIX}probe-{os.getpid()}"
    try:
        run(["ip", "netns", "add", probe])
    except LabError as exc:
        raise LabError(
            "cannot create a network namespace (`ip netns add` failed): the kernel needs "
            "CONFIG_NET_NS and the process CAP_SYS_ADMIN; in a container use --privileged. "
            f"Detail: {exc}"
        ) from exc
    finally:
        run(["ip", "netns", "del", probe], check=False)


def list_namespaces(prefix: str = PREFIX) -> list[str]:
    """Names of the network namespaces starting with `prefix`."""
    out = run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def list_links(namespace: str | None = None, prefix: str = PREFIX) -> list[str]:
    """Names of links starting with `prefix` in `namespace` (the root namespace when None)."""
    argv = ["ip", "-o", "link", "show"]
    if namespace is not None:
        argv = ["ip", "-n", namespace, "-o", "link", "show"]
    out = run(argv, check=False)
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@", 1)[0])
    return sorted(n for n in names if n.startswith(prefix))


def namespace_pids(namespace: str) -> list[int]:
    """Process ids running inside `namespace`."""
    out = run(["ip", "netns", "pids", namespace], check=False)
    return [int(tok) for tok in out.split() if tok.isdigit()]


def kill_pids(pids: Sequence[int], *, grace_s: float = 2.0) -> None:
    """Stop these processes: SIGCONT+SIGTERM, then SIGKILL whatever is left after `grace_s`."""
    me = os.getpid()
    alive = [p for p in pids if p != me and is_running(p)]
    for pid in alive:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if is_running(p)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def is_running(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (reaps it when it is our child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def write_resolv_conf(namespace: str, nameservers: Sequence[str]) -> None:
    """Give `namespace` its own resolv.conf (`ip netns exec` bind-mounts it over /etc)."""
    directory = NETNS_ETC / namespace
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"nameserver {ns}" for ns in nameservers]
    (directory / "resolv.conf").write_text("\n".join([*lines, "options timeout:1 attempts:2", ""]))


def remove_everything(
    prefix: str = PREFIX,
    extra_pids: Sequence[int] = (),
    *,
    only: Sequence[str] | None = None,
) -> list[str]:
    """Remove every namespace, link, process and /etc/netns entry whose name starts with `prefix`.

    `only` limits the sweep to these namespaces (and their processes). Idempotent.
    Deleting a namespace removes its links, routes, iptables rules and tc qdiscs with
    it. Returns what was removed, for the caller to report.
    """
    removed: list[str] = []
    namespaces = list_namespaces(prefix)
    if only is not None:
        namespaces = [ns for ns in namespaces if ns in only]
    pids = list(extra_pids)
    for ns in namespaces:
        pids.extend(namespace_pids(ns))
    if pids:
        kill_pids(sorted(set(pids)))
        removed.extend(f"process {p}" for p in sorted(set(pids)))
    for ns in namespaces:
        run(["ip", "netns", "del", ns], check=False)
        removed.append(f"namespace {ns}")
    for link in list_links(None, prefix) if only is None else []:
        run(["ip", "link", "del", link], check=False)
        removed.append(f"link {link}")
    if NETNS_ETC.is_dir():
        for entry in NETNS_ETC.iterdir():
            if entry.name.startswith(prefix) and (only is None or entry.name in only):
                shutil.rmtree(entry, ignore_errors=True)
    return removed


@functools.cache
def has_netem() -> bool:
    """Whether this kernel has the netem qdisc (delay and jitter); tested in a scratch netns."""
    ns = f"{PREFIX}netem-{os.getpid()}"
    run(["ip", "netns", "add", ns], check=False)
    try:
        run(["ip", "-n", ns, "link", "add", "nv-x", "type", "veth", "peer", "name", "nv-y"],
            check=False)  # fmt: skip
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "nv-x", "root", "netem",
             "delay", "1ms"],
            capture_output=True,
            check=False,
        )  # fmt: skip
        return proc.returncode == 0
    finally:
        run(["ip", "netns", "del", ns], check=False)
