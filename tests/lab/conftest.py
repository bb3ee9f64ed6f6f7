"""Lab fixtures: a small lab per module, torn down afterwards; netns tests need root."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.lab import Lab, lab_down, lab_up

HERE = Path(__file__).parent
SMALL = HERE / "small.toml"
REPO = HERE.parent.parent
if str(REPO) not in sys.path:  # `bench` (the withdrawal to netvigil run's API), as tests/bench
    sys.path.append(str(REPO))


def require_root() -> None:
    """Skip without root on a laptop; under CI a lab test that cannot run fails."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("lab tests must run as root in CI")
        pytest.skip("the lab needs root (network namespaces)")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nv-lab")


TEST_PREFIX = "nv-t-"
"""The small lab's namespaces start with this, so a lab of the default prefix may run."""


@pytest.fixture(scope="module")
def small_lab(state_dir: Path) -> Iterator[Lab]:
    require_root()
    lab = lab_up(SMALL, state_dir=state_dir, prefix=TEST_PREFIX)
    try:
        yield lab
    finally:
        lab_down(state_dir=state_dir, prefix=TEST_PREFIX)  # other labs' namespaces stay


@pytest.fixture
def root() -> None:
    """Needs root: skips on a laptop, fails under CI."""
    require_root()


@pytest.fixture
def small_topology() -> Path:
    """The small test topology's file."""
    return SMALL
