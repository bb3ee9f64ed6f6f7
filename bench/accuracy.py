"""Lab accuracy: run every scenario with netvigil watching and score what it reported.

For each `scenarios/*.toml` the lab is built, the faults are played on their timeline
with agents probing from every vantage, and the measurements are saved in a run
directory; then the measurements are replayed through the current `Detector` and
scored against the scenario's `[[expect]]` (rules in docs/lab.md, "Scoring"). The table
goes into the `## Lab scenarios` section of docs/accuracy.md and the figures into
`<run dir>/accuracy.json`.

    .venv/bin/python bench/accuracy.py                       # everything, about an hour
    .venv/bin/python bench/accuracy.py --only shutdown service-crash
    .venv/bin/python bench/accuracy.py --rescore bench/results/lab/run1   # no lab: replay
                                                                          # saved runs through
                                                                          # the current detector

A run saved with its route collector feed (`<name>.feed.jsonl`) is replayed with its
network plane as `netvigil run` has it (`netvigil.lab.feedreplay`); `--no-feed` replays
the measurements alone.

Labs run one at a time (every lab uses the same namespace names); `--jobs` scores runs
in parallel processes. Needs root for the lab; `--rescore` does not.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from netvigil.errors import NetvigilError
from netvigil.lab.fuzz import derive_truth
from netvigil.lab.scenario import load_scenario, run_scenario
from netvigil.lab.score import (
    ScenarioScore,
    calibration_table,
    load_saved_run,
    run_report,
    summarize_scores,
)

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
DOC = ROOT / "docs" / "accuracy.md"
SECTION = "## Lab scenarios"
TARGETS = {
    "delay_intervals": 2.0,
    "cause": 0.95,
    "precision": 0.95,
    "recall": 0.95,
}


def scenario_names(directory: Path, only: list[str] | None) -> list[str]:
    """Scenario names in `directory`, all or those in `only` (in that order)."""
    known = sorted(p.stem for p in directory.glob("*.toml"))
    if not only:
        return known
    unknown = [n for n in only if n not in known]
    if unknown:
        raise SystemExit(f"no scenario {', '.join(unknown)} in {directory} (known: {known})")
    return list(only)


def _say(line: str) -> None:
    print("  " + line, flush=True)


def run_all(names: list[str], directory: Path, out: Path) -> list[str]:
    """Run each scenario in the lab, saving its measurements in `out`; returns failures."""
    failed: list[str] = []
    for name in names:
        t0 = time.monotonic()
        print(f"[{time.strftime('%H:%M:%S')}] {name}: running", flush=True)
        try:
            try:
                result = run_scenario(directory / f"{name}.toml", out_dir=out, progress=_say)
            except NetvigilError as exc:  # e.g. the lab disturbed by another lab: once more
                print(f"  {name}: {exc}; trying once more", flush=True)
                time.sleep(10)
                result = run_scenario(directory / f"{name}.toml", out_dir=out, progress=_say)
        except NetvigilError as exc:
            print(f"  {name}: {exc}", flush=True)
            failed.append(name)
            continue
        except Exception:  # keep going: one broken run must not lose the others
            traceback.print_exc()
            failed.append(name)
            continue
        took = time.monotonic() - t0
        print(f"  {name}: {result.measurements} measurements in {took:.0f}s", flush=True)
    return failed


def score_one(
    args: tuple[Path, str, Path, bool, bool, bool],
) -> tuple[dict[str, Any], ScenarioScore]:
    """Replay and score one saved run; writes `<name>.score.json` beside it. With
    `derive`, the expectations are those the current ground truth derives from the
    scenario's faults (for composed scenarios), not those written in its file; with
    `written`, those the scenario's file in `directory` holds now, not the copy saved
    with the run. A run saved with its route collector feed is replayed with its network
    plane, unless `plane` is False (the probes alone: written to
    `<name>.score-probes.json`)."""
    out, name, directory, derive, written, plane = args
    saved = load_saved_run(out, name, scenario_dir=directory)
    scenario = saved.scenario
    if written:
        scenario = scenario.model_copy(
            update={"expect": load_scenario(directory / f"{name}.toml").expect}
        )
    if derive:
        scenario = scenario.model_copy(
            update={"expect": derive_truth(scenario.fault, saved.topology)}
        )
    doc, score = run_report(
        scenario,
        saved.topology,
        started=saved.started,
        measurements=saved.measurements,
        windows=saved.windows,
        feed=saved.feed if plane else None,
    )
    suffix = "score" if plane else "score-probes"
    (out / f"{name}.{suffix}.json").write_text(json.dumps(doc, indent=2))
    return doc, score


def fmt(value: float | None, spec: str = ".0%") -> str:
    return "n/a" if value is None else format(value, spec)


def table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Markdown rows: per scenario and in total."""
    lines = [
        "| scenario | detected | median delay | worst delay | cause right | "
        "first alert right | right-cause share | flips | worst wrong conf. (provisional) | "
        "worst wrong, with allowance (provisional) | merged | changes of mode | "
        "services precision | services recall | false incidents |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rows:
        if s["expected"]:
            detected = f"{s['detected']}/{s['expected']}"
            cause = f"{s['causes_right']}/{s['expected']}"
            first = f"{s['causes_right_at_confirmation']}/{s['expected']}"
        else:
            detected = cause = first = "(none expected)"
        wrong = (
            f"{fmt(s['worst_wrong_confidence'], '.2f')} "
            f"({fmt(s['worst_wrong_confidence_provisional'], '.2f')})"
        )
        allowed = (
            f"{fmt(s.get('worst_wrong_confidence_with_allowance'), '.2f')} "
            f"({fmt(s.get('worst_wrong_confidence_provisional_with_allowance'), '.2f')})"
        )
        med = s.get("median_delay_s")
        worst = s.get("worst_delay_s")
        med_i = s.get("median_delay_intervals")
        worst_i = s.get("worst_delay_intervals")
        lines.append(
            f"| {name} | {detected} | "
            + ("n/a" if med is None else f"{med:.1f} s ({med_i:.2f})")
            + " | "
            + ("n/a" if worst is None else f"{worst:.1f} s ({worst_i:.2f})")
            + f" | {cause} | {first} | {fmt(s['right_cause_share'])} | {s['cause_flips']} | "
            + f"{wrong} | {allowed} | {s['merged_incidents']} | {s.get('mode_changes', 0)} | "
            + f"{fmt(s.get('services_precision'))} | "
            f"{fmt(s.get('services_recall'))} | {s['false_incidents']} |"
        )
    return lines


def per_scenario_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The table row of one score document."""
    sc = doc["score"]
    interval = doc["probe_interval_s"]
    delays = [e["delay_s"] for e in sc["expectations"] if e["delay_s"] is not None]
    return {
        "expected": sc["expected"],
        "detected": sc["detected"],
        "causes_right": sc["causes_right"],
        "median_delay_s": statistics.median(delays) if delays else None,
        "worst_delay_s": max(delays) if delays else None,
        "median_delay_intervals": statistics.median(delays) / interval if delays else None,
        "worst_delay_intervals": max(delays) / interval if delays else None,
        "services_precision": sc["services_precision"],
        "services_recall": sc["services_recall"],
        "false_incidents": len(sc["false_incidents"]),
        "causes_right_at_confirmation": sc["causes_right_at_confirmation"],
        "right_cause_share": sc["right_cause_share"],
        "cause_flips": sc["cause_flips"],
        "worst_wrong_confidence": sc["worst_wrong_confidence"],
        "worst_wrong_confidence_provisional": sc["worst_wrong_confidence_provisional"],
        "worst_wrong_confidence_with_allowance": sc.get("worst_wrong_confidence_with_allowance"),
        "worst_wrong_confidence_provisional_with_allowance": sc.get(
            "worst_wrong_confidence_provisional_with_allowance"
        ),
        "merged_incidents": len(sc["merged_incidents"]),
        "mode_changes": len(sc.get("mode_changes") or []),
    }


def misses(doc: dict[str, Any]) -> list[str]:
    """What a scenario falls short of, from its score document."""
    return list(doc["score"]["misses"])


def _commit() -> str:
    """` at commit X` for the tree being measured (the detector changes), when in git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f" at commit {head}" if head else ""


def render_section(
    docs: list[dict[str, Any]], scores: list[ScenarioScore], out: Path, command: str
) -> str:
    """The `## Lab scenarios` section of docs/accuracy.md."""
    total = summarize_scores(scores)
    samples = [c for s in scores for c in s.calibration]
    rows = [(d["scenario"], per_scenario_summary(d)) for d in docs]
    rows.append(("**total**", total))
    lines = [
        SECTION,
        "",
        "Code measured: the live `netvigil.detect.Detector`, the code `netvigil run` executes",
        "(here with its default settings): the lab's measurements are replayed through it",
        "(`bench/accuracy.py --rescore`) and its incidents scored against each scenario's",
        "ground truth.",
        "",
        "Every scenario in `scenarios/` played in the lab (network namespaces, real servers,",
        "real faults, agents probing from every vantage on the scenario's compressed clock),",
        "then the measurements replayed through the current `Detector` and scored against the",
        'scenario\'s ground truth. Scoring rules: docs/lab.md, "Scoring". Delays are from the',
        "fault's start to the incident's confirmation, in seconds and (in brackets) in probe",
        "intervals. What a user saw: *first alert right*, the cause shown when the failure",
        "was detected was the expected one; *right-cause share*, the mean share of the",
        "matching incidents' visible time with the expected cause; *flips*, changes of the",
        "shown cause over all incidents; *worst wrong conf.*, the highest confidence shown",
        "for a wrong cause once confirmed (in brackets: while provisional), strictly and",
        "*with allowance* (the previous mode's cause shown in the first 4 probe intervals",
        "of a failure's new mode is not yet detected, not wrong); *merged*, incidents that",
        "match two expectations of different causes that are not one failure changing",
        "mode; *changes of mode*, incidents whose cause followed one failure changing mode",
        '(same services, the new mode before the old one ended; docs/lab.md, "Scoring").',
        "",
        "    .venv/bin/python bench/accuracy.py                 # runs the lab, about an hour",
        "    .venv/bin/python bench/accuracy.py --rescore DIR   # replays saved runs, seconds",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `{command}`{_commit()}; saved runs: `{out}`",
        "(measurements JSONL per scenario, re-scorable with `--rescore`).",
        "",
        *table(rows),
        "",
    ]
    expected = total["expected"]
    checks = [
        (
            "every outage detected",
            total["detected"] == expected,
            f"{total['detected']}/{expected}",
        ),
        (
            "median delay <= 2 probe intervals",
            total["median_delay_intervals"] is not None
            and total["median_delay_intervals"] <= TARGETS["delay_intervals"],
            f"{fmt(total['median_delay_intervals'], '.2f')} intervals",
        ),
        (
            "cause accuracy >= 95%",
            expected > 0 and total["causes_right"] / expected >= TARGETS["cause"],
            f"{fmt(total['causes_right'] / expected if expected else None)}",
        ),
        (
            "affected-services precision >= 95%",
            (total["services_precision"] or 0) >= TARGETS["precision"],
            fmt(total["services_precision"]),
        ),
        (
            "affected-services recall >= 95%",
            (total["services_recall"] or 0) >= TARGETS["recall"],
            fmt(total["services_recall"]),
        ),
    ]
    healthy = [d for d in docs if not d["score"]["expected"]]
    if healthy:
        false_healthy = sum(len(d["score"]["false_incidents"]) for d in healthy)
        checks.append(
            (
                "no false incident where none is expected",
                false_healthy == 0,
                f"{false_healthy} in {', '.join(d['scenario'] for d in healthy)}",
            )
        )
    lines += ["| target | met | measured |", "|---|---|---|"]
    lines += [f"| {what} | {'yes' if ok else '**no**'} | {value} |" for what, ok, value in checks]
    lines.append("")
    missing = [(d["scenario"], misses(d)) for d in docs if misses(d)]
    if missing:
        lines.append("Scenarios that miss a target:")
        lines.append("")
        lines += [f"- `{name}`: {'; '.join(m)}" for name, m in missing]
    else:
        lines.append("No scenario misses a target.")
    lines += [
        "",
        "Confidence calibration: each expected incident's reported cause with the confidence",
        "netvigil gave it, and each false incident (its cause wrong by definition).",
        "",
        "| confidence | incidents | cause right | fraction right |",
        "|---|---|---|---|",
    ]
    for row in calibration_table(samples):
        lines.append(
            f"| {row['low']:.2f}-{row['high']:.2f} | {row['count']} | {row['right']} | "
            f"{fmt(row['fraction_right'])} |"
        )
    return "\n".join(lines) + "\n"


def write_section(doc_path: Path, section: str) -> None:
    """Replace (or append) the `## Lab scenarios` section, leaving the others as they are."""
    text = doc_path.read_text(encoding="utf-8") if doc_path.exists() else "# Accuracy\n"
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        rest = "" if nxt < 0 else text[nxt + 1 :]
        text = text[:start] + section + ("\n" + rest if rest else "")
    doc_path.write_text(text, encoding="utf-8")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that a killed run still tears its lab down


def main(argv: list[str] | None = None) -> int:
    """Command-line entry; returns the exit status."""
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these scenarios")
    parser.add_argument("--jobs", type=int, default=1, help="scoring processes (default 1)")
    parser.add_argument("--rescore", type=Path, metavar="DIR", help="score saved runs in DIR")
    parser.add_argument("--out", type=Path, help="where to save runs (default bench/results/lab/)")
    parser.add_argument("--scenarios", type=Path, default=SCENARIOS)
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown file to update")
    parser.add_argument("--no-doc", action="store_true", help="do not update the Markdown file")
    parser.add_argument(
        "--derive-truth",
        action="store_true",
        help="score composed (random) scenarios against the ground truth the current code "
        "derives from their faults, not the expectations written when they were composed",
    )
    parser.add_argument(
        "--no-feed",
        action="store_true",
        help="replay the measurements alone, without the route collector feed and block "
        "rounds a run recorded (what the probes alone tell)",
    )
    parser.add_argument(
        "--written-truth",
        action="store_true",
        help="score saved runs against the [[expect]] their scenario files in --scenarios "
        "hold now, not the copy saved with the run",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    names = scenario_names(args.scenarios, args.only)
    for name in names:
        load_scenario(args.scenarios / f"{name}.toml")  # fail early on a broken file
    if args.rescore is not None:
        out: Path = args.rescore
        saved = {p.name.removesuffix(".result.json") for p in out.glob("*.result.json")}
        names = [n for n in names if n in saved]
        if not names:
            parser.error(f"{out}: no saved run of any of the chosen scenarios")
    else:
        out = args.out or ROOT / "bench" / "results" / "lab" / time.strftime("%Y%m%dT%H%M%S")
        out.mkdir(parents=True, exist_ok=True)
        failed = run_all(names, args.scenarios, out)
        names = [n for n in names if n not in failed]
    work = [
        (out, n, args.scenarios, args.derive_truth, args.written_truth, not args.no_feed)
        for n in names
    ]
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            pairs = list(pool.map(score_one, work))
    else:
        pairs = [score_one(w) for w in work]
    docs = [d for d, _ in pairs]
    scores = [s for _, s in pairs]
    command = "bench/accuracy.py " + " ".join(sys.argv[1:] if argv is None else argv)
    section = render_section(docs, scores, out, command.strip())
    (out / "accuracy.json").write_text(
        json.dumps({"scenarios": docs, "section": section}, indent=2)
    )
    print(section)
    if not args.no_doc:
        write_section(args.doc, section)
        print(f"wrote {args.doc} ({SECTION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
