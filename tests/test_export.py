"""Measurement files: JSONL round trip, CSV columns, malformed lines named precisely."""

from __future__ import annotations

import csv
import io
import json

import pytest

from netvigil.errors import IngestError
from netvigil.export import CSV_COLUMNS, JSONLError, read_jsonl, write_csv, write_jsonl
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase

MEASUREMENTS = [
    Measurement(
        id="01HFWHFYF0C1NTECAASYZ4VA80",
        ts=1_699_999_980.25,
        vantage="tirana-1",
        target="https://e-albania.al/",
        kind="http",
        ok=True,
        outcome=Outcome.OK,
        timings={"resolve": 0.004, "connect": 0.021, "tls": 0.05, "ttfb": 0.12, "total": 0.2},
        detail={"status": 200, "server": "nginx"},
        address="198.51.100.7",
    ),
    Measurement(
        id="01HFWHFZ00C1NTECAASYZ4VA81",
        ts=1_699_999_981.0,
        vantage="frankfurt-1",
        target="tcp://kryeministria.al:443",
        kind="tcp",
        ok=False,
        outcome=Outcome.TCP_TIMEOUT,
        phase=Phase.CONNECT,
        timings={"resolve": 0.003, "total": 5.0, "extra": 1.0},
        detail={"error": 'timed out, "quoted"\nnext line', "ë": [1, None]},
    ),
]


def test_jsonl_round_trip() -> None:
    buf = io.StringIO()
    assert write_jsonl(MEASUREMENTS, buf) == 2
    lines = buf.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [m.to_json() for m in MEASUREMENTS]
    assert list(read_jsonl(io.StringIO(buf.getvalue()))) == MEASUREMENTS


def test_jsonl_skips_blank_lines() -> None:
    text = "\n" + json.dumps(MEASUREMENTS[0].to_json()) + "\n   \n"
    assert list(read_jsonl(io.StringIO(text))) == MEASUREMENTS[:1]


def test_csv_columns_and_values() -> None:
    buf = io.StringIO(newline="")
    assert write_csv(MEASUREMENTS, buf) == 2
    buf.seek(0)
    reader = csv.DictReader(buf)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert CSV_COLUMNS[:3] == ("id", "ts", "time")
    first, second = list(reader)
    assert first["time"] == "2023-11-14T22:13:00.250+00:00"
    assert float(first["ts"]) == MEASUREMENTS[0].ts
    assert (first["ok"], first["outcome"], first["phase"]) == ("true", "ok", "")
    assert [float(first[f"{p}_s"]) for p in ("resolve", "connect", "tls", "ttfb", "total")] == [
        0.004,
        0.021,
        0.05,
        0.12,
        0.2,
    ]
    assert first["address"] == "198.51.100.7"
    assert (second["ok"], second["outcome"], second["phase"]) == ("false", "tcp_timeout", "connect")
    assert (second["connect_s"], second["total_s"], second["address"]) == ("", "5.0", "")
    assert json.loads(second["detail"]) == MEASUREMENTS[1].detail


def test_csv_pages_append_without_header() -> None:
    buf = io.StringIO(newline="")
    write_csv(MEASUREMENTS[:1], buf)
    assert write_csv(MEASUREMENTS[1:], buf, header=False) == 1
    buf.seek(0)
    assert [row["id"] for row in csv.DictReader(buf)] == [m.id for m in MEASUREMENTS]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"id": "x", "ts": 1', "", "not JSON"),
        ("[1, 2]", "", "expected a JSON object"),
        ({"ts": "yesterday"}, "ts", "valid number"),
        ({"outcome": "on_fire"}, "outcome", "'ok'"),
        ({"phase": "later"}, "phase", "'resolve'"),
        ({"timings": {"total": "slow"}}, "timings.total", "valid number"),
        ({"ok": None}, "ok", "valid boolean"),
        ({"vantage": None}, "vantage", "valid string"),
    ],
)
def test_malformed_line_names_line_and_field(
    line: str | dict[str, object], field: str, message: str
) -> None:
    good = json.dumps(MEASUREMENTS[0].to_json())
    if isinstance(line, dict):
        line = json.dumps({**MEASUREMENTS[1].to_json(), **line})
    text = f"{good}\n\n{good}\n{line}\n{good}\n"
    with pytest.raises(JSONLError) as info:
        list(read_jsonl(io.StringIO(text), source="run.jsonl"))
    err = info.value
    assert isinstance(err, IngestError)
    assert (err.line, err.field) == (4, field)
    prefix = f"run.jsonl:4: {field}: " if field else "run.jsonl:4: "
    assert str(err).startswith(prefix)
    assert message in str(err)


def test_missing_field_is_named() -> None:
    obj = MEASUREMENTS[0].to_json()
    del obj["target"]
    with pytest.raises(JSONLError, match=r"^<jsonl>:1: target: Field required"):
        list(read_jsonl(io.StringIO(json.dumps(obj))))
