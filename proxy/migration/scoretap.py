"""The raw v3 scores behind a translated answer: captured per task while a shadow twin runs.

The calibration the handlers use reports every (raw, calibrated) conversion to an observer; the
observer built by ``tap_observer`` also appends the raw score to the list of the task that opened
``capturing()`` (a ContextVar, so concurrent twins never mix their scores). Outside a capture it
costs one ContextVar lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_captured: ContextVar[list[float] | None] = ContextVar("raw_v3_scores", default=None)


@contextmanager
def capturing() -> Iterator[list[float]]:
    """Within the block, raw v3 scores converted by this task are appended to the yielded list, in order."""
    scores: list[float] = []
    token = _captured.set(scores)
    try:
        yield scores
    finally:
        _captured.reset(token)


def tap_observer(observe: Callable[[float, float], None]) -> Callable[[float, float], None]:
    """``observe`` that also records the raw score for an open capture."""

    def both(raw: float, calibrated: float) -> None:
        observe(raw, calibrated)
        scores = _captured.get()
        if scores is not None:
            scores.append(raw)

    return both
