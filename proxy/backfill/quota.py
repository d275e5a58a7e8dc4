"""Backfill's own cap on v3 calls: a bucket per interface group at --qps, AIMD on RequestLimitExceeded.

Two layers pace a backfill's v3 calls. Below, the process's V3Client draws every call from the
fleet's upstream quota (proxy.limits: one budget per interface group, shared with live traffic
through Redis when configured) at BACKGROUND priority, so live requests go first. Above it, this
module caps the backfill itself at --qps per group, slowing down multiplicatively when v3 still
answers RequestLimitExceeded (the account's budget is spent elsewhere) and creeping back up while
calls are served; a rate-limited call is retried after a jittered pause, never failed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from proxy.limits.groups import group_of
from proxy.v3.body import JsonBody
from proxy.v3.client import V3Client, V3Endpoint, V3Reply, throttled
from proxy.v3.errors import V3Error

DECREASE = 0.8  # multiplicative decrease on RequestLimitExceeded, at most once per DECREASE_EVERY_S
DECREASE_EVERY_S = 1.0  # one rejected second is one signal, however many calls it rejected
# additive increase per second of calls served, as a share of the ceiling: fast back to just under the
# rate v3 last refused (RECOVER of it), slowly past it, so a lone refusal costs little and a smaller
# budget (live traffic taking its share) is found by repeated decreases
FAST_INCREASE_PER_S = 0.25
SLOW_INCREASE_PER_S = 0.02
RECOVER = 0.95
FLOOR = 0.05  # never below 5 % of the ceiling
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)  # before retrying a rate-limited call (full jitter), the last repeats


class Quota(Protocol):
    """A v3 budget the backfill draws from before each call, and tells how v3 answered."""

    async def acquire(self, action: str) -> None: ...

    def limited(self, action: str) -> None:
        """v3 answered RequestLimitExceeded: slow down."""
        ...

    def answered(self, action: str) -> None:
        """v3 served a call: speed back up towards the ceiling."""
        ...


class Bucket:
    """Evenly spaced calls at `rate` per second (one token of burst), rate moved by AIMD within [floor, ceiling]."""

    def __init__(self, ceiling: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = ceiling
        self.rate = ceiling
        self._clock = clock
        self._next = 0.0
        self._last_decrease = -DECREASE_EVERY_S
        self._refused_at = ceiling  # the rate v3 last refused

    def reserve(self) -> float:
        """Take the next slot: how long to wait for it (0 when free now)."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate
        return slot - now

    def decrease(self) -> None:
        now = self._clock()
        if now - self._last_decrease >= DECREASE_EVERY_S:
            self._last_decrease = now
            self._refused_at = self.rate
            self.rate = max(self.ceiling * FLOOR, self.rate * DECREASE)

    def increase(self) -> None:
        # a share of the ceiling per second, spread over the `rate` calls a second holds
        share = FAST_INCREASE_PER_S if self.rate < RECOVER * self._refused_at else SLOW_INCREASE_PER_S
        self.rate = min(self.ceiling, self.rate + share * self.ceiling / self.rate)


class AimdQuota:
    """One `Bucket` per v3 interface group, each with --qps as its ceiling."""

    def __init__(self, qps: float, clock: Callable[[], float] = time.monotonic) -> None:
        if qps <= 0:
            raise ValueError(f"qps must be positive, got {qps}")
        self._qps = qps
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def bucket(self, action: str) -> Bucket:
        group = group_of(action)
        found = self._buckets.get(group)
        if found is None:
            found = self._buckets[group] = Bucket(self._qps, self._clock)
        return found

    async def acquire(self, action: str) -> None:
        wait = self.bucket(action).reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def limited(self, action: str) -> None:
        self.bucket(action).decrease()

    def answered(self, action: str) -> None:
        self.bucket(action).increase()


class QuotaV3Client(V3Client):
    """A V3Client drawing from a `Quota` before each call and retrying RequestLimitExceeded with jittered backoff.

    A rate-limited call was not executed by v3, so retrying it is safe; the handler above never sees it.
    """

    __slots__ = ("_inner", "_quota", "rate_limited")

    def __init__(self, inner: V3Client, quota: Quota) -> None:
        self._inner = inner
        self._quota = quota
        self.rate_limited = 0  # RequestLimitExceeded answers absorbed so far

    @property
    def endpoint(self) -> V3Endpoint:
        return self._inner.endpoint

    def build_request(self, action: str, params: Mapping[str, Any]) -> tuple[JsonBody, dict[str, str]]:
        return self._inner.build_request(action, params)

    async def call(self, action: str, params: Mapping[str, Any]) -> V3Reply:
        attempt = 0
        while True:
            await self._quota.acquire(action)
            try:
                reply = await self._inner.call(action, params)
            except V3Error as exc:
                if not throttled(exc.code):
                    self._quota.answered(action)
                    raise
                self.rate_limited += 1
                self._quota.limited(action)
                await asyncio.sleep(random.uniform(0, BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]))
                attempt += 1
                continue
            self._quota.answered(action)
            return reply
