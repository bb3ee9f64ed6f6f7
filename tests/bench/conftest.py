"""Tests of the benchmarks' own code: ``bench.detectors`` and the NAB scorer in ``bench/nab.py``.

``pytest`` puts ``tests/`` on ``sys.path`` (for the shared fixtures), not the repository root
that holds the ``bench`` package; this adds it, at the end so that nothing there shadows an
installed module.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data sets: $NETVIGIL_DATA, else ../shared/data beside the repository.

    Missing data skips the test on a laptop and fails it under CI (``CI=true``).
    """
    root = Path(os.environ.get("NETVIGIL_DATA") or REPO.parent / "shared" / "data")
    if not root.is_dir():
        message = f"shared data missing at {root} (set NETVIGIL_DATA to its folder)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root
