"""Run a coroutine on uvloop (the default event loop of every netvigil command)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion on a fresh uvloop event loop."""
    result: T = uvloop.run(coro)
    return result
