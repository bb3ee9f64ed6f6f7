"""`netvigil signals import FILE`: an IODA export through the product's signal detector.

Every numeric column of the export becomes a signal of one entity (a country, an AS);
the same detector `netvigil run` feeds live judges them bin by bin, and the "network
down" alarms are printed with the signals that moved and by how much. `--score` compares
the alarms with the file's `LABEL` column.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from netvigil.detect.signals import NetworkDownAlarm
from netvigil.ioda import detect_alarms, read_ioda_csv, render_score, score_alarms
from netvigil.words import share, stamp

__all__ = ["app", "import_file"]

app = typer.Typer(
    help="Network-level signals (BGP visibility, active probing, ...): import and detect.",
    no_args_is_help=True,
)


def _alarm_json(alarm: NetworkDownAlarm) -> dict[str, Any]:
    return {
        "entity": alarm.entity,
        "start": alarm.start,
        "end": alarm.end,
        "score": round(alarm.score, 6),
        "alone": alarm.alone,
        "moved": [
            {
                "signal": m.signal,
                "baseline": round(m.baseline, 6),
                "value": m.value,
                "drop": round(m.drop, 6),
            }
            for m in alarm.moved
        ],
    }


def _alarm_line(alarm: NetworkDownAlarm) -> str:
    end = stamp(alarm.end) if alarm.end is not None else "still down at the end of the file"
    moved = ", ".join(
        f"{m.signal} {m.value:g} vs {m.baseline:.4g} (-{share(m.drop)})" for m in alarm.moved
    )
    how = "one signal alone" if alarm.alone else "signals together"
    return f"{alarm.entity} down {stamp(alarm.start)} -> {end} ({how}): {moved}"


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="An IODA CSV export (timestamp, signal columns, LABEL).")
    ],
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity",
            help="Entity the signals belong to (default: the country code in the file name).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One alarm per line as JSON.")] = False,
    score: Annotated[
        bool,
        typer.Option(
            "--score",
            help="Compare the alarms with the LABEL column: detection per labelled outage, "
            "delay in bins, false alarms.",
        ),
    ] = False,
) -> None:
    """Run the signal detector over an IODA export and print the "network down" alarms.

    A file that cannot be read or parsed exits 1 with the reason.
    """
    series = read_ioda_csv(file, entity=entity)
    alarms = detect_alarms(series)
    typer.echo(
        f"{len(series.timestamps)} bins of {series.bin_s:.0f} s, signals "
        f"{', '.join(series.signals)}: {len(alarms)} alarm(s)",
        err=True,
    )
    for alarm in alarms:
        if as_json:
            sys.stdout.write(json.dumps(_alarm_json(alarm), separators=(",", ":")) + "\n")
        else:
            typer.echo(_alarm_line(alarm))
    if score:
        result = score_alarms(series, alarms)
        lines = render_score(series, result)
        if as_json:
            summary = {
                "events": len(result.events),
                "detected": result.detected,
                "in_first_bin": result.in_first_bin,
                "delays_bins": [e.delay_bins for e in result.events],
                "false_alarms": len(result.false_alarms),
            }
            sys.stdout.write(json.dumps({"score": summary}, separators=(",", ":")) + "\n")
        else:
            typer.echo("")
            for line in lines:
                typer.echo(line)
