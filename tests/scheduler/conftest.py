"""Fixtures for scheduler tests."""

from __future__ import annotations

import pytest
from schedfakes import FakeProbe, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def probe() -> FakeProbe:
    return FakeProbe()
