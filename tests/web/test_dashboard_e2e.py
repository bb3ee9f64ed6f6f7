"""The dashboard in headless Chromium, against a real `netvigil run` watching loopback servers.

One deployment serves the whole module: loopback HTTP servers (one of which the tests
stop and start again), a store seeded with an hour of history (its incident found by
the real Detector), `netvigil run` as a subprocess probing every second, and a real
`netvigil agent` shipping a second vantage's results. Chromium is Debian's
(`/usr/bin/chromium`, driven by Playwright); each page is saved under
docs/screenshots/.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from netvigil.config import load_config
from netvigil.detect.detector import Detector
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase
from netvigil.signal import SignalEvent, SignalSample
from netvigil.state.health import HealthPolicy
from netvigil.store.sqlite import SQLiteStore
from servers.http import make_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The README's screenshots are refreshed only when asked (NETVIGIL_SCREENSHOTS=1), so a
# test run leaves the work tree as it found it.
SCREENSHOTS = (
    DOC_SCREENSHOTS
    if os.environ.get("NETVIGIL_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "netvigil-screenshots"
)
HISTORY_S = 3600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LoopbackSites:
    """The test HTTP app on loopback sockets, in a thread of its own; sites stop and restart."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ports: dict[str, int] = {}
        self.runners: dict[str, web.AppRunner] = {}

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=10)

    async def _start(self, name: str) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.ports.get(name, 0)))
        sock.listen(64)
        sock.setblocking(False)
        self.ports[name] = sock.getsockname()[1]
        runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self.runners[name] = runner

    async def _stop(self, name: str) -> None:
        await self.runners.pop(name).cleanup()

    def start(self, name: str) -> str:
        """Serve site `name` (on the port it had before, if any); its base URL."""
        self._call(self._start(name))
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self, name: str) -> None:
        """Close site `name`: connections to it are refused."""
        self._call(self._stop(name))

    def close(self) -> None:
        for name in list(self.runners):
            self.stop(name)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


CONFIG = """
[vantage]
name = "local"
country = "AL"
in_country = true

[server]
listen = "127.0.0.1:{port}"

[[networks]]
name = "gov-net"
description = "Government network"
country = "AL"

[[networks]]
name = "tax-hosting"
country = "AL"

[[organizations]]
name = "agency"

[[organizations]]
name = "tax-office"

[[services]]
name = "e-portal"
description = "The portal for public services"
organization = "agency"
network = "gov-net"
country = "AL"

[[services]]
name = "pm-office"
description = "Office of the Prime Minister"
organization = "agency"
network = "gov-net"
country = "AL"

[[services]]
name = "tax-portal"
description = "Tax administration portal"
organization = "tax-office"
network = "tax-hosting"
country = "AL"

[[agents]]
name = "abroad"
token_sha256 = "{token_sha256}"
country = "DE"
in_country = false

[[targets]]
name = "e-portal-http"
service = "e-portal"
kind = "http"
url = "{portal}/ok"
interval_s = 1
timeout_s = 1

[[targets]]
name = "pm-office-http"
service = "pm-office"
kind = "http"
url = "{steady}/ok"
interval_s = 1
timeout_s = 1

[[targets]]
name = "tax-portal-http"
service = "tax-portal"
kind = "http"
url = "{steady}/slow/0.03"
interval_s = 1
timeout_s = 3

[[targets]]
name = "control-http"
control = true
kind = "http"
url = "{steady}/ok"
interval_s = 1
timeout_s = 1
"""

AGENT_CONFIG = """
[vantage]
name = "abroad"
country = "DE"
in_country = false

[[targets]]
name = "e-portal-http"
kind = "http"
url = "{portal}/ok"
interval_s = 2
timeout_s = 1
control = true

[[targets]]
name = "pm-office-http"
kind = "http"
url = "{steady}/ok"
interval_s = 2
timeout_s = 1
control = true

[[targets]]
name = "tax-portal-http"
kind = "http"
url = "{steady}/slow/0.03"
interval_s = 2
timeout_s = 3
control = true
"""


def _history(now: float) -> list[Measurement]:
    """An hour of results from both vantages; e-portal and pm-office fail by timeout
    from both for 15 minutes, half an hour ago (what a shutdown looks like)."""
    rng = random.Random(7)
    out: list[Measurement] = []
    base = {"e-portal-http": 0.045, "pm-office-http": 0.060, "tax-portal-http": 0.090}
    down = (now - 35 * 60, now - 20 * 60)
    start = now - HISTORY_S
    for vantage, extra in (("local", 0.0), ("abroad", 0.035)):
        ts = start + (3.0 if vantage == "abroad" else 0.0)
        while ts < now - 90:
            for target, latency in base.items():
                failing = target != "tax-portal-http" and down[0] <= ts < down[1]
                total = latency + extra + rng.gauss(0, 0.006) + (0.04 if ts > now - 900 else 0)
                if failing:
                    m = Measurement(
                        id=new_measurement_id(ts),
                        ts=ts,
                        vantage=vantage,
                        target=target,
                        kind="http",
                        ok=False,
                        outcome=Outcome.TCP_TIMEOUT,
                        phase=Phase.CONNECT,
                        timings={"total": 1.0},
                    )
                else:
                    m = Measurement(
                        id=new_measurement_id(ts),
                        ts=ts,
                        vantage=vantage,
                        target=target,
                        kind="http",
                        ok=True,
                        outcome=Outcome.OK,
                        timings={"connect": total / 4, "total": max(0.005, total)},
                    )
                out.append(m)
            if vantage == "local":
                out.append(
                    Measurement(
                        id=new_measurement_id(ts),
                        ts=ts,
                        vantage=vantage,
                        target="control-http",
                        kind="http",
                        ok=True,
                        outcome=Outcome.OK,
                        timings={"total": 0.02},
                    )
                )
            ts += 20.0
    out.sort(key=lambda m: m.ts)
    return out


def _plane(now: float) -> tuple[list[SignalSample], list[SignalEvent]]:
    """What an earlier run recorded of gov-net's network plane over the hour: its prefix
    withdrawn by 5 of 5 collector peers and its 4 blocks dark while the services failed."""
    down = (now - 35 * 60, now - 20 * 60)
    samples: list[SignalSample] = []
    for ts in range(int(now - HISTORY_S), int(now - 90), 60):
        dark = down[0] <= ts < down[1]
        samples.append(
            SignalSample("gov-net", "blocks_up", ts, 0.0 if dark else 1.0, "block_probe/local")
        )
    for ts, value in ((now - HISTORY_S, 1.0), (down[0], 0.0), (down[1], 1.0)):
        samples.append(SignalSample("gov-net", "bgp_visibility", ts, value, "ris_live"))
    events = [
        SignalEvent(
            "gov-net",
            "withdrawal",
            down[0],
            "192.0.2.0/24",
            5,
            5,
            "withdrawn by 5 of 5 peers; 0 still route it",
            "ris_live",
        ),
        SignalEvent("gov-net", "announcement", down[1], "192.0.2.0/24", 5, 5, "", "ris_live"),
    ]
    return samples, events


async def _seed(db: Path, config_path: Path) -> None:
    """Store the history, the incidents the real detector finds in it, and the network
    plane an earlier run recorded."""
    config = load_config(config_path)
    history = _history(time.time())
    detector = Detector(config, lateness_s=30)
    events = detector.feed_many(history)
    events += detector.flush()
    async with await SQLiteStore.open(db) as store:
        await store.add(history)
        for event in events:
            await store.save_incident(event.incident)
            await store.add_incident_event(event)
        await store.add_signals(*_plane(time.time()))


@dataclass
class Deployment:
    url: str
    sites: LoopbackSites
    log: Path


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:  # loopback only
        body: bytes = r.read()
        return body


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, limit_s: float = 20) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"netvigil exited early:\n{log.read_text()[-3000:]}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {limit_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make system-deps)")
    tmp = tmp_path_factory.mktemp("dashboard")
    sites = LoopbackSites()
    portal = sites.start("portal")
    steady = sites.start("steady")
    port = _free_port()
    token = secrets.token_urlsafe(24)
    config_path = tmp / "netvigil.toml"
    config_path.write_text(
        CONFIG.format(
            port=port,
            portal=portal,
            steady=steady,
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        )
    )
    agent_path = tmp / "agent.toml"
    agent_path.write_text(AGENT_CONFIG.format(portal=portal, steady=steady))
    db = tmp / "netvigil.db"
    asyncio.run(_seed(db, config_path))
    log = tmp / "run.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "netvigil", "run", "-c", str(config_path), "--db", str(db)]
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--plain"], stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    agent_log = tmp / "agent.log"
    agent: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(f"{url}/api/v1/health", proc, log)
        agent_cmd = [sys.executable, "-m", "netvigil", "agent", "--server", url]
        agent_cmd += ["-c", str(agent_path), "--spool", str(tmp / "spool.db")]
        with agent_log.open("wb") as out:
            agent = subprocess.Popen(
                agent_cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**env, "NETVIGIL_AGENT_TOKEN": token},
            )
        yield Deployment(url, sites, log)
    finally:
        for p in (agent, proc):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        sites.close()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def _launch(pw: Any, profile: Path, **options: Any) -> Any:
    """Debian's Chromium, headless, with a fresh profile (never a downloaded browser)."""
    return pw.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, **options
    )


@pytest.fixture(scope="module")
def browser_context(playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    context = _launch(
        playwright,
        tmp_path_factory.mktemp("chromium-profile"),
        viewport={"width": 1280, "height": 900},
        color_scheme="light",
    )
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    yield page
    page.close()
    assert not errors, f"errors in the page: {errors}"


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


VIEWS = ("overview", "vantages", "targets")


def _cell(page: Any, service: str, vantage: str) -> Any:
    return page.locator(f'td.cell[data-service="{service}"][data-vantage="{vantage}"]')


def test_overview_follows_a_server_going_down_and_back(deployment: Deployment, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{deployment.url}/")
    portal = _cell(page, "e-portal", "local")
    expect(portal).to_have_attribute("data-state", "up", timeout=15_000)
    expect(portal).to_contain_text("up")
    expect(_cell(page, "tax-portal", "local")).to_have_attribute("data-state", "up")
    try:
        expect(_cell(page, "e-portal", "abroad")).to_have_attribute(
            "data-state", "up", timeout=15_000
        )
    except AssertionError as exc:
        seen = {p: _get(f"{deployment.url}/api/v1/{p}").decode()[:3000] for p in VIEWS}
        metrics = _get(f"{deployment.url}/metrics").decode()
        detect = [line for line in metrics.splitlines() if line.startswith("netvigil_detect")]
        raise AssertionError(f"{exc}\nthe server's view: {seen}\n{detect}") from exc
    expect(page.locator(".live-status")).to_have_text("● live")
    _shot(page, "overview-light")
    page.emulate_media(color_scheme="dark")
    page.reload()
    expect(_cell(page, "e-portal", "local")).to_have_attribute("data-state", "up")
    _shot(page, "overview-dark")
    page.emulate_media(color_scheme="light")
    page.reload()

    deployment.sites.stop("portal")  # the page is not reloaded from here on: the stream updates it
    expect(portal).to_have_attribute("data-state", "down", timeout=10_000)
    expect(portal).to_contain_text("down")  # the word, not only the colour
    expect(portal).to_contain_text("tcp_refused")
    expect(_cell(page, "pm-office", "local")).to_have_attribute("data-state", "up")
    page.select_option("#group-by", "network")
    expect(page.get_by_role("heading", name="network: gov-net")).to_be_visible()
    expect(_cell(page, "e-portal", "local")).to_have_attribute("data-state", "down")
    _shot(page, "overview-outage")

    deployment.sites.start("portal")
    expect(_cell(page, "e-portal", "local")).to_have_attribute("data-state", "up", timeout=10_000)


def _overview_cell(url: str, service: str, vantage: str) -> str:
    """The state of one cell of the overview grid, as the API serves it."""
    grid = json.loads(_get(f"{url}/api/v1/overview"))
    row = next(r for r in grid["services"] if r["service"] == service)
    cell: str = row["cells"][grid["vantages"].index(vantage)]
    return cell


def _wait_for_cell(url: str, service: str, vantage: str, state: str, limit_s: float = 15) -> None:
    deadline = time.monotonic() + limit_s
    seen = _overview_cell(url, service, vantage)
    while seen != state:
        assert time.monotonic() < deadline, f"{service} from {vantage}: {seen}, not {state}"
        time.sleep(0.2)
        seen = _overview_cell(url, service, vantage)


def _wait_for_failures(
    url: str, target: str, vantage: str, count: int, limit_s: float = 15
) -> None:
    """Wait until `target` from `vantage` has failed `count` times in its window, as the
    API serves it."""
    deadline = time.monotonic() + limit_s
    while True:
        views = json.loads(_get(f"{url}/api/v1/targets"))
        view = next(v for v in views if v["name"] == target)
        pair = next((p for p in view["vantages"] if p["vantage"] == vantage), None)
        if pair is not None and pair["failures"] >= count:
            return
        assert time.monotonic() < deadline, f"{target} from {vantage}: {pair}"
        time.sleep(0.2)


def test_a_change_made_while_the_stream_was_away_shows_after_it_reconnects(
    deployment: Deployment, page: Any
) -> None:
    from playwright.sync_api import expect

    # The stream answers, but ends at once without a `hello`: the page has its data, and
    # no live updates, until the route is lifted and the stream reconnects.
    stream = "**/api/v1/stream*"
    empty = {"status": 200, "headers": {"Content-Type": "text/event-stream"}}
    page.route(stream, lambda route: route.fulfill(**empty, body="retry: 300\n\n"))
    page.goto(f"{deployment.url}/")
    portal = _cell(page, "e-portal", "local")
    expect(portal).to_have_attribute("data-state", "up", timeout=15_000)

    deployment.sites.stop("portal")
    try:
        _wait_for_cell(deployment.url, "e-portal", "local", "down")
        expect(portal).to_have_attribute("data-state", "up")  # the page has not heard of it
        page.unroute(stream)
        expect(portal).to_have_attribute("data-state", "down", timeout=10_000)
        expect(page.locator(".live-status")).to_have_text("● live")
    finally:
        deployment.sites.start("portal")
    _wait_for_cell(deployment.url, "e-portal", "local", "working")


def test_a_change_made_while_the_page_fetched_its_data_shows_once_it_has_it(
    deployment: Deployment, page: Any
) -> None:
    from playwright.sync_api import Route, expect

    # The page's first /targets answer is taken from the server, then held back until the
    # server has seen the portal go down for good (its path confirmed down: no state event
    # for it follows): the page builds its grid from an answer that says "up", while only
    # the stream, during the fetch, told of the change.
    _wait_for_cell(deployment.url, "e-portal", "local", "working")
    held: list[str] = []

    def hold(route: Route) -> None:
        if held:
            route.continue_()
            return
        held.append(route.request.url)
        answer = route.fetch()
        deployment.sites.stop("portal")
        _wait_for_failures(deployment.url, "e-portal-http", "local", HealthPolicy().confirm)
        route.fulfill(response=answer)

    targets = "**/api/v1/targets"
    page.route(targets, hold)
    try:
        page.goto(f"{deployment.url}/")
        portal = _cell(page, "e-portal", "local")
        expect(portal).to_have_attribute("data-state", "down", timeout=10_000)
        assert held, "the page never fetched /api/v1/targets"
    finally:
        page.unroute(targets)
        deployment.sites.start("portal")
    _wait_for_cell(deployment.url, "e-portal", "local", "working")


def test_incident_page_shows_evidence_and_charts(deployment: Deployment, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{deployment.url}/ui/incidents")
    card = page.locator(".incident-card, table tr[data-incident] a").first
    expect(card).to_be_visible(timeout=10_000)
    page.locator("table tr[data-incident] a").first.click()
    expect(page.locator("#evidence tbody tr").first).to_be_visible()
    expect(page.locator("#timeline li").first).to_contain_text("Opened")
    expect(page.locator(".chart canvas").first).to_be_visible()
    assert page.locator(".chart canvas").count() >= 2
    expect(page.locator("#incident-cause")).not_to_be_empty()
    # Times carry their zone, and charts use the same 24-hour clock as the tables.
    expect(page.locator("dl.kv").first).to_contain_text(" UTC")
    expect(page.locator("#notes, .muted", has_text="acknowledg").first).to_be_visible()
    assert page.locator(".u-axis").first.inner_text().count(" AM") == 0
    expect(page.locator(".chart").first).to_contain_text("Time (UTC")
    _shot(page, "incident")


def test_network_page_and_incident_chart_show_visibility_and_blocks_up(
    deployment: Deployment, page: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{deployment.url}/ui/networks/gov-net?range=1h")
    figure = page.locator('figure[data-network="gov-net"]')
    expect(figure.locator("canvas")).to_be_visible(timeout=10_000)
    legend = figure.locator(".u-legend")
    expect(legend).to_contain_text("BGP visibility")
    expect(legend).to_contain_text("Blocks up")
    expect(page.locator("#network-events tr[data-kind='withdrawal']")).to_contain_text("5 of 5")
    expect(page.locator(".incident-list")).to_contain_text("e-portal")  # its services' incident
    _shot(page, "network-bgp")
    page.goto(f"{deployment.url}/ui/incidents")
    page.locator("table tr[data-incident] a").first.click()
    plane = page.locator('.network-plane figure[data-network="gov-net"]')
    expect(plane.locator("canvas")).to_be_visible(timeout=10_000)
    expect(plane.locator(".u-legend")).to_contain_text("BGP visibility")


def test_service_page_has_charts_per_vantage(deployment: Deployment, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{deployment.url}/ui/services/e-portal")
    expect(page.get_by_role("heading", name="e-portal", exact=True)).to_be_visible()
    expect(page.locator("#current-state tbody tr[data-vantage='local']")).to_be_visible()
    expect(page.locator(".chart canvas").first).to_be_visible()
    legend = page.locator(".u-legend").first
    expect(legend).to_contain_text("local")
    expect(legend).to_contain_text("abroad")
    expect(page.locator(".mix table")).to_contain_text("tcp_timeout")
    _shot(page, "service")
    page.get_by_role("button", name="6 hours").click()
    expect(page.get_by_role("button", name="6 hours")).to_have_attribute("aria-pressed", "true")
    assert "range=6h" in page.url


def test_vantages_page(deployment: Deployment, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{deployment.url}/ui/vantages")
    expect(page.locator("#vantages tr[data-vantage='local']")).to_contain_text("this server")
    expect(page.locator("#vantages tr[data-vantage='abroad']")).to_be_visible()
    _shot(page, "vantages")


def test_phone_layout_has_no_horizontal_page_scroll(deployment: Deployment, page: Any) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{deployment.url}/ui/services/tax-portal")
    expect(page.locator(".chart canvas").first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    _shot(page, "service-phone")


def test_status_page_without_javascript(
    deployment: Deployment, playwright: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect

    context = _launch(
        playwright,
        tmp_path_factory.mktemp("chromium-nojs"),
        java_script_enabled=False,
        viewport={"width": 1000, "height": 800},
    )
    try:
        page = context.new_page()
        response = page.goto(f"{deployment.url}/status")
        assert response is not None
        assert response.status == 200
        expect(page.locator("body")).to_contain_text("Tax administration portal")
        expect(page.locator("body")).to_contain_text("The portal for public services")
        _shot(page, "status")
        page.goto(f"{deployment.url}/")
        expect(page.get_by_role("link", name="status page")).to_be_visible()
    finally:
        context.close()


def test_albanian_status_page_and_dashboard_with_a_switch_to_english(
    deployment: Deployment, playwright: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A browser set to Albanian (Accept-Language and navigator.language "sq-AL") gets
    both the status page and the dashboard in Albanian; each offers English."""
    from playwright.sync_api import expect

    context = _launch(
        playwright,
        tmp_path_factory.mktemp("chromium-sq"),
        locale="sq-AL",
        viewport={"width": 1280, "height": 900},
        color_scheme="light",
    )
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{deployment.url}/")
        expect(page.locator("html")).to_have_attribute("lang", "sq")
        expect(page.get_by_role("heading", name="Pasqyra", exact=True)).to_be_visible()
        portal = _cell(page, "e-portal", "local")
        expect(portal).to_have_attribute("data-state", "up", timeout=15_000)
        expect(portal).to_contain_text("funksionon")
        expect(page.locator(".live-status")).to_have_text("● drejtpërdrejt")
        _shot(page, "overview-sq")
        page.get_by_role("link", name="Incidentet", exact=True).click()
        expect(page.get_by_role("heading", name="Incidentet", exact=True)).to_be_visible()
        expect(page.locator("table.table thead")).to_contain_text("Shkaku")

        page.goto(f"{deployment.url}/status")
        expect(page.locator("html")).to_have_attribute("lang", "sq")
        expect(page.get_by_role("heading", name="Shërbimet", exact=True)).to_be_visible()
        expect(page.locator("body")).to_contain_text("Funksionon")
        expect(page.locator("body")).not_to_contain_text("Working")
        _shot(page, "status-sq")
        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="Services", exact=True)).to_be_visible()
        assert page.url.endswith("/status?lang=en")

        page.goto(f"{deployment.url}/ui/incidents")
        expect(page.get_by_role("heading", name="Incidentet", exact=True)).to_be_visible()
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.goto(f"{deployment.url}/ui/vantages")  # English is remembered without ?lang=
        expect(page.get_by_role("heading", name="Vantages", exact=True)).to_be_visible()
    finally:
        context.close()
    assert not errors, f"errors in the page: {errors}"
