"""`netvigil replay`, `incidents`, `incident` and `report`, run as real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from detect.streams import GOV, ONSET, SILENT, Probe, World, gov, healthy, target_name
from netvigil.config import load_config
from netvigil.detect.detector import Detector
from netvigil.export import write_jsonl
from netvigil.model import Measurement
from netvigil.store import SQLiteStore

RECOVERY = ONSET + 200.0


def shutdown_then_recovery(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if gov(target) and ONSET <= ts < RECOVERY:
        return SILENT
    return healthy(ts, vantage, target, rng)


@dataclass
class Result:
    code: int
    out: str
    err: str


async def netvigil(*args: str, stdin: bytes | None = None, timeout: float = 90) -> Result:
    """Run `python -m netvigil ARGS`, optionally feeding stdin."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netvigil",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


def world_toml(interval: float) -> str:
    """The `World()` observatory of the detector tests as a netvigil.toml."""
    lines = ['[vantage]\nname = "local"\ncountry = "AL"\nin_country = true\n']
    lines += [f'[[networks]]\nname = "{n}"\n' for n in ("gov", "tax", "media")]
    lines += [f'[[organizations]]\nname = "{o}"\n' for o in ("government", "press")]
    services = [(s, "gov", "government") for s in GOV]
    services += [("tax-portal", "tax", "government"), ("news", "media", "press")]
    for name, network, org in services:
        lines.append(
            f'[[services]]\nname = "{name}"\nnetwork = "{network}"\norganization = "{org}"\n'
        )
        lines.append(
            f'[[targets]]\nkind = "http"\nname = "{target_name(name)}"\nservice = "{name}"\n'
            f'url = "https://{name}.example/"\ninterval_s = {interval}\n'
        )
    lines.append(
        '[[targets]]\nkind = "tcp"\nname = "control"\ncontrol = true\nhost = "192.0.2.53"\n'
        f"port = 443\ninterval_s = {interval}\n"
    )
    for name, country in (("de", "DE"), ("us", "US")):
        lines.append(
            f'[[agents]]\nname = "{name}"\ntoken_sha256 = "{"0" * 64}"\ncountry = "{country}"\n'
        )
    return "\n".join(lines)


def write_world(tmp_path: Path) -> tuple[Path, list[Measurement]]:
    world = World()
    config = tmp_path / "netvigil.toml"
    config.write_text(world_toml(world.interval), encoding="utf-8")
    assert load_config(config) == world.config()
    return config, world.stream(shutdown_then_recovery)


async def test_replay_is_deterministic_and_reports_each_incident_field(tmp_path: Path) -> None:
    config, stream = write_world(tmp_path)
    recorded = tmp_path / "run.jsonl"
    with recorded.open("w", encoding="utf-8") as fp:
        write_jsonl(stream, fp)
    broken = tmp_path / "broken.jsonl"
    lines = recorded.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[2]) | {"outcome": "exploded"}
    broken.write_text("\n".join([*lines[:2], json.dumps(bad), *lines[3:]]) + "\n")

    from_file, from_stdin, malformed = await asyncio.gather(
        netvigil("replay", str(recorded), "-c", str(config), "--json"),
        netvigil("replay", "-", "-c", str(config), "--json", stdin=recorded.read_bytes()),
        netvigil("replay", str(broken), "-c", str(config)),
    )

    assert from_file.code == 0, from_file.err
    assert from_file.out == from_stdin.out  # same input, same incidents, byte for byte
    assert f"replayed {len(stream)} measurements: 1 incident(s)" in from_file.err
    [incident] = [json.loads(line) for line in from_file.out.splitlines()]
    expected = Detector(World().config())
    expected.feed_many(stream)
    expected.flush()
    assert incident == json.loads(json.dumps(expected.incidents()[0].to_json()))
    required = {"id", "cause", "confidence", "services", "vantages", "start", "end"}
    assert required | {"cause_history", "evidence"} <= set(incident)
    assert incident["cause"] == "shutdown"
    assert incident["services"] == sorted(GOV)
    assert incident["vantages"] == ["de", "local", "us"]
    assert ONSET <= incident["start"] < incident["end"]
    assert [c["cause"] for c in incident["cause_history"]] == ["shutdown"]
    assert incident["evidence"] and all("statement" in e for e in incident["evidence"])

    assert malformed.code == 1
    assert f"{broken}:3: outcome: " in malformed.err
    assert malformed.out == ""


async def _fill_store(path: Path, stream: list[Measurement]) -> str:
    """Store the stream and what the detector made of it through the Store API."""
    detector = Detector(World().config())
    events = detector.feed_many(stream) + detector.flush()
    async with await SQLiteStore.open(path) as store:
        await store.add(stream)
        for event in events:
            await store.add_incident_event(event)
            await store.save_incident(event.incident)
    [incident] = detector.incidents()
    return incident.id


async def test_incidents_list_and_detail_from_the_store(tmp_path: Path) -> None:
    config, stream = write_world(tmp_path)
    db = tmp_path / "nv.db"
    incident_id = await _fill_store(db, stream)

    listed, table, detail, unknown = await asyncio.gather(
        netvigil("incidents", "--db", str(db), "--json"),
        netvigil("incidents", "-c", str(config), "--db", str(db), "--since", "2022-07-15T20:00"),
        netvigil("incident", incident_id, "--db", str(db)),
        netvigil("incident", "inc-nope", "--db", str(db)),
    )

    assert listed.code == 0, listed.err
    [row] = [json.loads(line) for line in listed.out.splitlines()]
    assert row["id"] == incident_id
    assert row["state"] == "resolved"
    assert row["cause"] == "shutdown"

    assert table.code == 0, table.err
    assert incident_id in table.out
    assert "shutdown" in table.out
    assert "e-albania, parliament, pm-office" in table.out

    assert detail.code == 0, detail.err
    timeline = detail.out.split("timeline:")[1].split("evidence:")[0]
    assert "opened (suspected)" in timeline
    assert "confirmed from" in timeline
    assert "resolved: back up since 2022-07-15T20:33" in timeline
    assert timeline.index("opened") < timeline.index("confirmed") < timeline.index("resolved")
    assert "cause: shutdown, confidence" in detail.out
    assert "networks: gov" in detail.out
    assert "vantages: de, local, us" in detail.out
    assert "[tcp shutdown +" in detail.out.split("evidence:")[1]

    assert unknown.code == 1
    assert f"no incident 'inc-nope' in {db}" in unknown.err


async def test_report_writes_html_and_refuses_unknown_formats(tmp_path: Path) -> None:
    config, stream = write_world(tmp_path)
    db = tmp_path / "nv.db"
    incident_id = await _fill_store(db, stream)
    out = tmp_path / "incident.html"

    written, pdf = await asyncio.gather(
        netvigil("report", incident_id, "--out", str(out), "-c", str(config), "--db", str(db)),
        netvigil("report", incident_id, "--out", str(tmp_path / "x.pdf"), "--db", str(db)),
    )

    assert written.code == 0, written.err
    html = out.read_text(encoding="utf-8")
    assert incident_id in html
    assert "e-albania" in html
    assert pdf.code == 2
    assert "unsupported report format '.pdf'" in pdf.err
    assert not (tmp_path / "x.pdf").exists()
