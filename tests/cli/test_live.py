"""What `netvigil run` logs of paths turning down and up: noted on the thread that changes
the current state, written from the event loop as one summary line per burst (and one
line per path at DEBUG)."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from netvigil.cli._live import LatestState, PathChange, log_progress, summary_line
from netvigil.config.model import Config
from netvigil.model import Measurement, new_measurement_id
from netvigil.monitor import Monitor
from netvigil.outcome import Outcome, Phase
from netvigil.probes import ProbeSet
from netvigil.state.current import CurrentState

T0 = 1_700_000_000.0
LOGGER = "netvigil.run"


def config() -> Config:
    return Config.model_validate(
        {
            "vantage": {"name": "local"},
            "agents": [{"name": "abroad", "token_sha256": "0" * 64}],
            "services": [{"name": "portal"}, {"name": "news"}],
            "targets": [
                {"kind": "tcp", "name": name, "service": service, "host": "192.0.2.1", "port": 1}
                for name, service in (("portal-tcp", "portal"), ("news-tcp", "news"))
            ],
        }
    )


def probe(target: str, vantage: str, ts: float, ok: bool) -> Measurement:
    return Measurement(
        id=new_measurement_id(ts),
        ts=ts,
        vantage=vantage,
        target=target,
        kind="tcp",
        ok=ok,
        outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
        phase=None if ok else Phase.CONNECT,
        timings={"connect": 0.01, "total": 0.01} if ok else {},
    )


def rounds(current: CurrentState, start: int, count: int, *, failing: set[str]) -> None:
    """`count` probe rounds of every target from both vantages, one every 10 s; the targets
    in `failing` fail."""
    for r in range(start, start + count):
        for target in ("portal-tcp", "news-tcp"):
            for vantage in ("local", "abroad"):
                current.observe(probe(target, vantage, T0 + 10 * r, target not in failing))


def run_records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_a_burst_of_path_changes_is_one_info_line_naming_the_targets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    current = CurrentState(config())
    state = LatestState(current)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    rounds(current, 0, 2, failing=set())
    assert state.log_changes() == 0  # healthy paths appearing are no change
    rounds(current, 2, 3, failing={"portal-tcp"})  # 3 failures in a row: down
    assert run_records(caplog, logging.INFO) == []  # noted, not logged yet
    assert state.log_changes() == 2
    assert run_records(caplog, logging.INFO) == [
        "2 path(s) DOWN on 1 target(s): portal-tcp from abroad, local (tcp_timeout)"
    ]
    assert sorted(run_records(caplog, logging.DEBUG)) == [
        "portal-tcp from abroad is DOWN (tcp_timeout, phase connect)",
        "portal-tcp from local is DOWN (tcp_timeout, phase connect)",
    ]
    caplog.clear()
    assert state.log_changes() == 0
    assert run_records(caplog, logging.INFO) == []
    rounds(current, 5, 2, failing={"news-tcp"})  # portal recovers (2 in a row), news fails
    rounds(current, 7, 2, failing={"news-tcp"})
    assert state.log_changes() == 4
    assert run_records(caplog, logging.INFO) == [
        "2 path(s) DOWN on 1 target(s): news-tcp from abroad, local (tcp_timeout)"
        " | 2 path(s) up on 1 target(s): portal-tcp from abroad, local"
    ]


def test_changes_are_noted_on_the_detection_thread_and_logged_from_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    current = CurrentState(config())
    state = LatestState(current)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    thread = threading.Thread(target=rounds, args=(current, 0, 3), kwargs={"failing": {"news-tcp"}})
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert [r for r in caplog.records if r.name == LOGGER] == []
    assert state.log_changes() == 2
    assert {r.threadName for r in caplog.records if r.name == LOGGER} == {
        threading.current_thread().name
    }


def test_a_summary_names_at_most_the_limit_of_targets_and_counts_the_rest() -> None:
    changes = [PathChange(f"t{i:02d}", "local", True, "tcp_refused", "connect") for i in range(7)]
    changes.append(PathChange("t00", "abroad", True, "tcp_timeout", "connect"))
    line = summary_line(changes, limit=3)
    assert line == (
        "8 path(s) DOWN on 7 target(s): t00 from abroad, local (tcp_refused, tcp_timeout); "
        "t01 from local (tcp_refused); t02 from local (tcp_refused); and 4 more target(s)"
    )


async def test_the_progress_log_writes_path_changes_between_its_summaries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = config()
    current = CurrentState(cfg)
    state = LatestState(current)
    caplog.set_level(logging.INFO, logger=LOGGER)
    stop = asyncio.Event()
    async with ProbeSet() as probes:
        monitor = Monitor([], probes, [], "local", cfg.scheduler)
        task = asyncio.create_task(
            log_progress(state, monitor, stop, every_s=60.0, changes_every_s=0.05)
        )
        rounds(current, 0, 3, failing={"portal-tcp"})
        for _ in range(100):  # up to 5 s
            await asyncio.sleep(0.05)
            if run_records(caplog, logging.INFO):
                break
        assert run_records(caplog, logging.INFO) == [
            "2 path(s) DOWN on 1 target(s): portal-tcp from abroad, local (tcp_timeout)"
        ]
        stop.set()
        await asyncio.wait_for(task, 5)
    lines = run_records(caplog, logging.INFO)
    assert len(lines) == 2
    assert lines[1].startswith("0 checks so far; 1 target(s) failing: portal-tcp; ")
