"""The live view of a scenario run: what netvigil sees, as it happens.

`LiveView` tails the JSONL files the lab's agents write (one per vantage), feeds every
measurement into a `Detector` (the same detection code as `netvigil run`) and shows
services by vantage (up, partly failing, down), the faults on the timeline, and
incidents opening, changing cause and closing, with their confidence and top evidence.
On a terminal it is a Rich live display; elsewhere it prints plain lines.

    view = LiveView()
    runner = ScenarioRunner(scenario, progress=view.note, sleep=view.sleep,
                            on_start=view.start)
    try:
        runner.run()
    finally:
        view.close()
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from pydantic import ValidationError
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from netvigil.detect.detector import Detector
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.lab.config import detector_config, target_names
from netvigil.lab.lab import Lab
from netvigil.lab.score import Reported, reported_from_incidents, top_evidence
from netvigil.model import Measurement, measurement_list_adapter
from netvigil.words import state_word

__all__ = ["LiveView", "MeasurementTail"]

POLL_S = 0.5


class MeasurementTail:
    """Reads the complete new lines of every `*.jsonl` file in a directory, each call."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}
        self.bad_lines = 0

    def poll(self) -> list[Measurement]:
        """The measurements written since the last call (a half-written line waits)."""
        rows: list[object] = []
        for path in sorted(self.directory.glob("*.jsonl")):
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n")
            if end < 0:
                continue
            self._offsets[path] = offset + end + 1
            for line in chunk[: end + 1].splitlines():
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    self.bad_lines += 1
        try:
            return measurement_list_adapter.validate_python(rows)
        except ValidationError:
            good: list[Measurement] = []
            for row in rows:
                try:
                    good += measurement_list_adapter.validate_python([row])
                except ValidationError:
                    self.bad_lines += 1
            return good


_STATE_STYLE = {"up": "bold green", "partial": "bold yellow", "down": "bold red", "-": "dim"}


class LiveView:
    """Feeds a scenario run's measurements to a Detector and shows what it sees.

    `interval_s`/`timeout_s` are the scenario's probe interval and timeout. `plain`
    (default: whether `out` is not a terminal) prints one line per change instead of the
    live display. `clock` is injectable for tests.
    """

    def __init__(
        self,
        *,
        interval_s: float = 5.0,
        timeout_s: float = 3.0,
        plain: bool | None = None,
        out: IO[str] | None = None,
        clock: Callable[[], float] = time.time,
        evidence_lines: int = 3,
    ) -> None:
        self.out = out or sys.stdout
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.plain = (not self.out.isatty()) if plain is None else plain
        self.clock = clock
        self.evidence_lines = evidence_lines
        self.console = Console(file=self.out, force_terminal=not self.plain)
        self.detector: Detector | None = None
        self.tail: MeasurementTail | None = None
        self.started = 0.0
        self.duration_s = 0.0
        self.title = ""
        self.log: list[str] = []
        self.opened: dict[str, float] = {}
        self._service_of: dict[str, str] = {}
        self._services: list[str] = []
        self._vantages: list[str] = []
        self._latest: dict[tuple[str, str], Measurement] = {}
        self._shown: dict[tuple[str, str], str] = {}
        self._live: Live | None = None
        self.measurements = 0

    # -- the runner's hooks ----------------------------------------------------------

    def start(self, lab: Lab, started: float) -> None:
        """The run has begun: build the detector for this lab and start showing."""
        topo = lab.topology
        config = detector_config(topo, interval_s=self.interval_s, timeout_s=self.timeout_s)
        interval = self.interval_s
        # Live, a measurement waits for the slowest probe of its round, no longer.
        self.detector = Detector(config, lateness_s=self.timeout_s + 2.0)
        self.tail = MeasurementTail(lab.state_dir / "measurements")
        self.started = started
        self.title = f"lab {topo.name}, probing every {interval:g}s"
        self._vantages = [h.name for h in topo.hosts_with("vantage")]
        for service, names in target_names(topo).items():
            for name in names:
                self._service_of[name] = service or "control"
        self._services = [s for s in target_names(topo) if s] + ["control"]
        if not self.plain:
            self._live = Live(
                self._render(), console=self.console, refresh_per_second=4, transient=False
            )
            self._live.start()

    def note(self, line: str) -> None:
        """A progress line from the runner (faults starting and ending)."""
        self._say(line)

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`, watching the measurements and refreshing the view meanwhile."""
        deadline = self.clock() + seconds
        while True:
            self.poll()
            left = deadline - self.clock()
            if left <= 0:
                return
            time.sleep(min(POLL_S, left))

    def close(self) -> None:
        """Take in the last measurements and stop the live display."""
        if self.detector is not None:
            self.poll()
            self._events(self.detector.flush())
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None

    # -- state -------------------------------------------------------------------------

    def poll(self) -> None:
        """Feed what the agents wrote since the last poll; show what changed."""
        if self.detector is None or self.tail is None:
            return
        batch = self.tail.poll()
        self.measurements += len(batch)
        for m in sorted(batch, key=lambda m: m.ts):
            key = (m.target, m.vantage)
            old = self._latest.get(key)
            if old is None or old.ts <= m.ts:
                self._latest[key] = m
            self._events(self.detector.feed(m))
        self._events(self.detector.advance(self.clock()))
        if self.plain:
            self._print_state_changes()
        elif self._live is not None:
            self._live.update(self._render())

    def incidents(self) -> list[Reported]:
        """What the detector reported so far, times as offsets from the run's start."""
        if self.detector is None:
            return []
        return reported_from_incidents(
            self.detector.incidents(), started=self.started, opened=self.opened
        )

    def cell(self, service: str, vantage: str) -> tuple[str, str]:
        """(state, worst outcome) of `service` from `vantage`: up, partial, down or -."""
        latest = [
            m
            for (target, v), m in self._latest.items()
            if v == vantage and self._service_of.get(target) == service
        ]
        if not latest:
            return "-", ""
        failed = [m for m in latest if not m.ok]
        if not failed:
            return "up", "ok"
        worst = failed[0].outcome.value
        return ("down" if len(failed) == len(latest) else "partial"), worst

    def _offset(self, ts: float) -> str:
        return f"t={ts - self.started:5.0f}s"

    def _say(self, line: str) -> None:
        self.log.append(line)
        del self.log[:-10]
        if self.plain:
            print(line, file=self.out, flush=True)
        elif self._live is not None:
            self._live.update(self._render())

    def _events(self, events: list[IncidentEvent]) -> None:
        for ev in events:
            if ev.kind is EventKind.OPENED:
                self.opened.setdefault(ev.incident.id, ev.ts)
            if ev.kind is EventKind.UPDATED:
                continue
            self._say(f"{self._offset(ev.ts)} incident {ev.kind.value}: {_summary(ev.incident)}")
            if ev.kind in (EventKind.CONFIRMED, EventKind.CAUSE_CHANGED):
                for line in _evidence(ev.incident, self.evidence_lines):
                    self._say(f"           - {line}")

    def _print_state_changes(self) -> None:
        now = self._offset(self.clock())
        for vantage in self._vantages:
            changes: list[str] = []
            for service in self._services:
                state, outcome = self.cell(service, vantage)
                key = (service, vantage)
                if state == "-" or self._shown.get(key, "up") == state:
                    if state != "-":
                        self._shown[key] = state
                    continue
                self._shown[key] = state
                said = state_word(state)
                changes.append(service + ("" if state == "up" else f" {said} ({outcome})"))
                if state == "up":
                    changes[-1] += " up"
            if changes:
                self._say(f"{now} from {vantage}: {'; '.join(changes)}")

    # -- rendering ------------------------------------------------------------------

    def _render(self) -> RenderableType:
        t = max(0.0, self.clock() - self.started) if self.started else 0.0
        head = Text(f"netvigil watching {self.title}   t={t:.0f}s   ", style="bold")
        head.append(f"{self.measurements} measurements", style="dim")
        grid = Table(box=None, header_style="bold", pad_edge=False)
        grid.add_column("service")
        for v in self._vantages:
            grid.add_column(v)
        for service in self._services:
            cells: list[RenderableType] = [service]
            for v in self._vantages:
                state, outcome = self.cell(service, v)
                label = state if state in ("up", "-") else f"{state} {outcome}"
                cells.append(Text(label, style=_STATE_STYLE[state]))
            grid.add_row(*cells)
        parts: list[RenderableType] = [head, grid, Text("")]
        incidents = self.detector.incidents() if self.detector is not None else []
        if not incidents:
            parts.append(Text("no incident", style="green"))
        for inc in incidents[-4:]:
            style = "red" if inc.open else "green"
            parts.append(Text(_summary(inc, self.started), style=f"bold {style}"))
            for line in _evidence(inc, self.evidence_lines):
                parts.append(Text(f"    {line}"))
        parts.append(Text(""))
        parts += [Text(line, style="dim") for line in self.log[-6:]]
        return Group(*parts)


def _summary(inc: Incident, started: float | None = None) -> str:
    state = inc.state.value
    if inc.vantage is not None:
        what = f"vantage {inc.vantage}"
    else:
        what = ", ".join(inc.services) or ", ".join(inc.targets) or "?"
    text = f"[{state}] {what}: {inc.cause.value} {inc.confidence:.2f}"
    if started is not None:
        text += f", since t={inc.start - started:.0f}s"
        if inc.end is not None:
            text += f", ended t={inc.end - started:.0f}s"
    return text


def _evidence(inc: Incident, n: int) -> list[str]:
    return [e.statement for e in top_evidence(inc)[:n]]
