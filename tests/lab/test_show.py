"""The live view on recorded-style measurements written as the agents write them (no lab)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from netvigil.lab.lab import Lab
from netvigil.lab.show import LiveView, MeasurementTail
from netvigil.lab.topology import load_topology
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase

SMALL = Path(__file__).parent / "small.toml"
T0 = 1_657_915_200.0


def measurement(ts: float, vantage: str, target: str, kind: str, ok: bool) -> Measurement:
    return Measurement(
        id=new_measurement_id(ts),
        ts=ts,
        vantage=vantage,
        target=target,
        kind=kind,
        ok=ok,
        outcome=Outcome.OK if ok else Outcome.TCP_REFUSED,
        phase=None if ok else Phase.CONNECT,
        timings={"connect": 0.002, "total": 0.004} if ok else {"total": 0.001},
    )


def test_tail_returns_only_complete_new_lines(tmp_path: Path) -> None:
    tail = MeasurementTail(tmp_path)
    m = measurement(T0, "home", "portal-tcp", "tcp", True)
    line = json.dumps(m.to_json())
    path = tmp_path / "home.jsonl"
    path.write_text(line[:20])
    assert tail.poll() == []
    path.write_text(line + "\n" + "{not json}\n")
    (got,) = tail.poll()
    assert got.id == m.id and tail.bad_lines == 1
    assert tail.poll() == []


def test_plain_view_shows_services_going_down_and_the_incident(tmp_path: Path) -> None:
    lab = Lab(topology=load_topology(SMALL), state_dir=tmp_path)
    folder = tmp_path / "measurements"
    folder.mkdir()
    now = [T0]
    out = io.StringIO()
    view = LiveView(interval_s=1.0, timeout_s=1.0, plain=True, out=out, clock=lambda: now[0])
    view.start(lab, T0)
    targets = {"portal-https": "http", "portal-tcp": "tcp", "portal-icmp": "icmp",
               "control-http": "http", "control-tcp": "tcp"}  # fmt: skip
    for step in range(40):
        ts = T0 + step
        for vantage in ("home", "abroad"):
            with (folder / f"{vantage}.jsonl").open("a") as fh:
                for target, kind in targets.items():
                    down = 10 <= step < 25 and target in ("portal-https", "portal-tcp")
                    fh.write(json.dumps(measurement(ts, vantage, target, kind, not down).to_json()))
                    fh.write("\n")
        now[0] = ts + 0.5
        view.poll()
    view.close()
    text = out.getvalue()
    assert "from home: portal partly down (tcp_refused)" in text
    assert "incident opened" in text and "incident resolved" in text
    (inc,) = view.incidents()
    assert inc.services == ["portal"] and inc.cause == "service_failure"
    assert 10 <= inc.start < 11 and inc.end is not None and 25 <= inc.end < 26
    assert view.cell("portal", "abroad") == ("up", "ok")
