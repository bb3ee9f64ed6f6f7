"""Fixtures of the resilience tests (helpers are in resilience_kit)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from resilience_kit import LoopbackListener


@pytest.fixture
def listener() -> Iterator[LoopbackListener]:
    target = LoopbackListener()
    yield target
    target.close()
