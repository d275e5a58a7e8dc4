"""Counts of a run as it goes, and the rate and ETA derived from them."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.backfill.enrol import Outcome

RATE_WINDOW_S = 30.0  # the rate (and so the ETA) is over the last half minute


@dataclass
class Tally:
    """What the progress display and the summary show; updated by the runner, read by the display."""

    items: int
    persons: int
    clock: Callable[[], float] = time.monotonic
    enrolled: int = 0  # persons created (newperson) in this run
    added: int = 0  # faces added (addface) in this run
    skipped: int = 0  # items done by an earlier run
    failed: int = 0
    blocked: int = 0
    persons_done: int = 0
    rate_limited: int = 0  # RequestLimitExceeded answers absorbed by backing off
    rate_cuts: int = 0  # times the backfill's rate was cut because v3 refused more than a stray call
    retried: int = 0  # transient v3 failures (internal error, timeout, dropped connection) retried in the run
    started: float = field(default=0.0)
    _samples: deque[tuple[float, int]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.started = self.clock()
        self._samples.append((self.started, 0))

    @property
    def processed(self) -> int:
        return self.enrolled + self.added + self.skipped + self.failed + self.blocked

    @property
    def attempted(self) -> int:
        """Items that cost v3 calls in this run (skipped ones do not)."""
        return self.enrolled + self.added + self.failed

    @property
    def faces(self) -> int:
        return self.enrolled + self.added

    @property
    def errors(self) -> int:
        return self.failed + self.blocked

    @property
    def pending(self) -> int:
        return self.items - self.processed

    def count(self, outcome: Outcome) -> None:
        self.retried += outcome.retries
        status = outcome.status
        if status == "enrolled":
            self.enrolled += 1
        elif status == "added":
            self.added += 1
        elif status == "skipped":
            self.skipped += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.blocked += 1

    def elapsed(self) -> float:
        return self.clock() - self.started

    def rate(self) -> float:
        """Items attempted per second over the last RATE_WINDOW_S."""
        now = self.clock()
        samples = self._samples
        samples.append((now, self.attempted))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_S:
            samples.popleft()
        then, count = samples[0]
        return (self.attempted - count) / (now - then) if now > then else 0.0

    def eta(self, rate: float) -> float | None:
        """Seconds left at `rate`, None when there is no rate yet."""
        return self.pending / rate if rate > 0 else None


def clock_text(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
