"""A probe that times out arrives `timeout_s` after its timestamp: detection's lateness is
never shorter than the longest timeout, so such results count instead of being dropped."""

from __future__ import annotations

from netvigil.config.model import Config
from netvigil.detect import Detector
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome


def config(timeout_s: float, lateness_s: float = 5.0, *, agents: bool = False) -> Config:
    return Config.model_validate(
        {
            "agents": [{"name": "de", "token_sha256": "a" * 64}] if agents else [],
            "detect": {"lateness_s": lateness_s},
            "networks": [{"name": "n"}],
            "services": [{"name": "s", "network": "n"}],
            "targets": [
                {
                    "name": "quick",
                    "kind": "tcp",
                    "host": "127.0.0.1",
                    "port": 1,
                    "interval_s": 1.0,
                    "timeout_s": timeout_s,
                    "service": "s",
                },
                {
                    "name": "hung",
                    "kind": "tcp",
                    "host": "127.0.0.2",
                    "port": 1,
                    "interval_s": 10.0,
                    "timeout_s": timeout_s,
                    "service": "s",
                },
            ],
        }
    )


def result(target: str, ts: float, *, ok: bool, vantage: str = "local") -> Measurement:
    return Measurement(
        id=new_measurement_id(),
        ts=ts,
        vantage=vantage,
        target=target,
        kind="tcp",
        ok=ok,
        outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
    )


def late_after_timeout(cfg: Config, lateness_s: float) -> int:
    """Results in the order they are handed on: a quick target answering every second, and
    one probe of `hung` started at 100 that times out `timeout_s` later."""
    detector = Detector(cfg, lateness_s=lateness_s)
    timeout = cfg.targets[1].timeout_s
    for k in range(int(timeout)):
        detector.feed(result("quick", 100.0 + k, ok=True))
    detector.feed(result("hung", 100.0, ok=False))
    return detector.late


def test_lateness_covers_the_longest_timeout() -> None:
    assert config(timeout_s=10.0).detection_lateness_s == 11.0
    assert config(timeout_s=3.0).detection_lateness_s == 5.0
    assert Config().detection_lateness_s == 5.0


def test_a_timed_out_result_counts() -> None:
    cfg = config(timeout_s=10.0)
    assert late_after_timeout(cfg, cfg.detection_lateness_s) == 0
    # The configured lateness alone would drop it: the reason for the rule.
    assert late_after_timeout(cfg, cfg.detect.lateness_s) == 1


def test_with_agents_the_lateness_also_covers_shipping() -> None:
    """An agent's timed-out result waits in its spool for the next shipment (a second)
    and then for its request: it reaches the server some time after `timeout_s`."""
    cfg = config(timeout_s=10.0, agents=True)
    assert cfg.detection_lateness_s == 13.0

    def late(lateness_s: float) -> int:
        detector = Detector(cfg, lateness_s=lateness_s)
        for k in range(11):  # the agent's quick results, shipped every second
            detector.feed(result("quick", 100.0 + k, ok=True, vantage="de"))
        detector.advance(111.5)  # the server's timer, as `netvigil run` ticks it
        # The probe of `hung` started at 100 and timed out at 110; shipped at 111, it
        # arrives once its request is through.
        detector.feed(result("hung", 100.0, ok=False, vantage="de"))
        return detector.late

    assert late(cfg.detection_lateness_s) == 0
    assert late(config(timeout_s=10.0).detection_lateness_s) == 1  # without the margin
