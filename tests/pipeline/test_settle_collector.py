"""`settle_collector`: what start-up built is frozen, young collections come less often.

Run in a fresh interpreter: the collector's settings are the whole process's.
"""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json
from netvigil.pipeline.worker import GEN0_THRESHOLD, settle_collector
before = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
kept = [[i] for i in range(1000)]  # built at start-up, kept for good
settle_collector()
after = {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}
young = [[i] for i in range(100)]
print(json.dumps({"before": before, "after": after, "young": len(gc.get_objects(0)),
                  "wanted": GEN0_THRESHOLD}))
"""


def test_settling_freezes_what_start_up_built_and_raises_the_young_threshold() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    figures = json.loads(done.stdout)
    before, after = figures["before"], figures["after"]
    assert before["frozen"] == 0
    assert after["frozen"] >= 1000  # the kept lists at least
    assert after["threshold"][0] == figures["wanted"] > before["threshold"][0]
    assert after["threshold"][1:] == before["threshold"][1:]
    # Objects made after settling are young again: the collector still sees them.
    assert figures["young"] >= 100
