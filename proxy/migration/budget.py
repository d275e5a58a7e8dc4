"""How much shadowing a proxy may do: a per-tenant sample share and one cap on shadow calls per second.

``ShadowBudget.admit`` is asked before a shadow call (a v3 twin, a v1 replay) is started: first the
tenant's ``sample_percent`` (a fresh draw per request), then a token bucket refilled at
``max_calls_per_s`` (burst: one second's worth, at least one call). A refused call is simply not
made: the app's answer never waits for the budget.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Refusal(StrEnum):
    SAMPLED_OUT = "sampled_out"
    OVER_BUDGET = "over_budget"


@dataclass
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``take`` is O(1) and never waits."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._at = self.clock()

    def take(self) -> bool:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class ShadowBudget:
    """Sampling per tenant, then the shared calls-per-second cap."""

    def __init__(
        self,
        *,
        sample_percent: Mapping[str, float],
        default_percent: float,
        max_calls_per_s: float,
        noise_percent: float,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._percent = dict(sample_percent)
        self._default = default_percent
        self._noise = noise_percent
        self._rng = rng or random.Random()
        self._bucket = TokenBucket(max_calls_per_s, max(1.0, max_calls_per_s), clock)

    def admit(self, tenant: str) -> Refusal | None:
        """None when a v3 twin may be started for this request of ``tenant``, else why not."""
        if self._rng.random() * 100.0 >= self._percent.get(tenant, self._default):
            return Refusal.SAMPLED_OUT
        return None if self._bucket.take() else Refusal.OVER_BUDGET

    def admit_replay(self) -> Refusal | None:
        """None when this compared request may also be replayed to v1 (noise), else why not."""
        if self._rng.random() * 100.0 >= self._noise:
            return Refusal.SAMPLED_OUT
        return None if self._bucket.take() else Refusal.OVER_BUDGET
