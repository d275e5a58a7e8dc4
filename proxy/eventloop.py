"""The event loop a command runs on: uvloop when installed (measured faster: tests/bench), else asyncio's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopName = Literal["uvloop", "asyncio"]


def loop_factory(name: LoopName = "uvloop") -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when asked for and installed; None means asyncio's default loop."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is not built for every platform (Windows)
            return None
        return uvloop.new_event_loop
    return None


def run(main: Coroutine[Any, Any, T], *, loop: LoopName = "uvloop") -> T:
    """Run `main` to completion on a fresh loop of the chosen kind (asyncio.run, with the loop picked)."""
    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
        return runner.run(main)
