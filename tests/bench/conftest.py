"""Tests of the benchmarks' own code: ``bench.detectors`` and the NAB scorer in ``bench/nab.py``.

``pytest`` puts ``tests/`` on ``sys.path`` (for the shared fixtures), not the repository root
that holds the ``bench`` package; this adds it, at the end so that nothing there shadows an
installed module.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))
