"""Backfill's own cap on v3 calls: a window per interface group at --qps, AIMD on RequestLimitExceeded.

v3 lets at most N calls of an interface group through in any one second. This module keeps that
rule on the backfill's side (`Bucket`), counting calls when they are let go, so a slot missed is
caught up within the second instead of being lost (an evenly spaced pacer loses every slot no
caller was ready for, and two pacers at the same rate lose each other's). The ceiling is --qps,
or the group's budget in the fleet's quota plan when that is lower. When v3 refuses more than a
stray call at the edge of its window (live traffic spends the budget too), the rate drops
multiplicatively and creeps back up while calls are served; a rate-limited call is retried after
a jittered pause, never failed.

With Redis, the process's V3Client also draws every call from the fleet's shared upstream quota
(proxy.limits) at BACKGROUND priority, so live requests go first; without Redis this module is the
only pacer (the command turns the in-process fleet quota off: it cannot see live traffic).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from proxy.limits.groups import group_of
from proxy.v3.body import JsonBody
from proxy.v3.client import V3Client, V3Endpoint, V3Reply, throttled
from proxy.v3.errors import V3Error

DECREASE = 0.8  # multiplicative decrease on RequestLimitExceeded, at most once per DECREASE_EVERY_S
DECREASE_EVERY_S = 1.0  # one rejected second is one signal, however many calls it rejected
# a few refusals are the edge of v3's window (it sees our calls a transit time late, not all equally
# late): retried, no reason to slow down. More than this share of the rate within DECREASE_EVERY_S (and
# at least MIN_REFUSALS) say the budget is smaller than the rate: someone else is spending it
REFUSED_SHARE = 0.1
MIN_REFUSALS = 2
# additive increase per second of calls served, as a share of the ceiling: fast back to just under the
# rate v3 last refused (RECOVER of it), slowly past it, so a lone refusal costs little and a smaller
# budget (live traffic taking its share) is found by repeated decreases
FAST_INCREASE_PER_S = 0.25
SLOW_INCREASE_PER_S = 0.02
RECOVER = 0.95
FLOOR = 0.05  # never below 5 % of the ceiling
BURST = 2.0  # catching up after a late call: at most this many times the rate between two calls
MARGIN_S = 0.005  # added to the window: what the transit to v3 may shift a call's time by
BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0)  # before retrying a rate-limited call (full jitter), the last repeats


class Quota(Protocol):
    """A v3 budget the backfill draws from before each call, and tells how v3 answered."""

    async def acquire(self, action: str) -> float:
        """Wait for the call's turn; returns its token (for `limited`)."""
        ...

    def limited(self, action: str, token: float) -> None:
        """v3 answered RequestLimitExceeded to the call of `token`: it did not count it; slow down."""
        ...

    def answered(self, action: str) -> None:
        """v3 served a call: speed back up towards the ceiling."""
        ...


class Bucket:
    """v3's own rule, kept on our side: at most `size` calls in any window of size/rate seconds.

    A call is counted when it is let go (not when its slot was promised), so a caller woken late
    never makes the next one early, and a slot missed (no caller ready, the event loop busy) is
    not lost: the window lets the calls after it catch up, at most BURST times the rate. The rate
    moves by AIMD within [floor, ceiling]; at the ceiling the window is one second (+ MARGIN_S).
    """

    def __init__(self, ceiling: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = ceiling
        self.rate = ceiling
        self.size = max(1, int(ceiling))
        self._clock = clock
        self._sent: deque[float] = deque(maxlen=self.size)
        self._refusals: deque[float] = deque()
        self._last_decrease = -DECREASE_EVERY_S
        self._refused_at = ceiling  # the rate v3 last refused
        self.decreases = 0  # how many times the rate was cut

    def wait_s(self) -> float:
        """How long until the next call may go (0: now)."""
        sent = self._sent
        if not sent:
            return 0.0
        now = self._clock()
        after_last = sent[-1] + 1.0 / (BURST * self.rate)
        if len(sent) < self.size:
            return max(0.0, after_last - now)
        return max(0.0, after_last - now, sent[0] + self.size / self.rate + MARGIN_S - now)

    def take(self) -> float:
        """A call goes now: its token (when it went)."""
        now = self._clock()
        self._sent.append(now)
        return now

    def refund(self, token: float) -> None:
        """v3 refused that call without counting it: nor does the window (else each refusal costs a slot)."""
        with contextlib.suppress(ValueError):  # already out of the window
            self._sent.remove(token)

    def decrease(self) -> None:
        now = self._clock()
        refusals = self._refusals
        refusals.append(now)
        while now - refusals[0] > DECREASE_EVERY_S:
            refusals.popleft()
        if len(refusals) < max(MIN_REFUSALS, REFUSED_SHARE * self.rate * DECREASE_EVERY_S):
            return
        if now - self._last_decrease >= DECREASE_EVERY_S:
            self._last_decrease = now
            self._refused_at = self.rate
            self.rate = max(self.ceiling * FLOOR, self.rate * DECREASE)
            self.decreases += 1

    def increase(self) -> None:
        # a share of the ceiling per second, spread over the `rate` calls a second holds
        share = FAST_INCREASE_PER_S if self.rate < RECOVER * self._refused_at else SLOW_INCREASE_PER_S
        self.rate = min(self.ceiling, self.rate + share * self.ceiling / self.rate)


class AimdQuota:
    """One `Bucket` per v3 interface group, each with --qps (or the group's lower fleet budget) as its ceiling."""

    def __init__(
        self,
        qps: float,
        clock: Callable[[], float] = time.monotonic,
        budget: Callable[[str], float] = lambda group: 0.0,
    ) -> None:
        """`budget(group)`: the group's calls per second in the fleet's quota plan (0: no limit there)."""
        if qps <= 0:
            raise ValueError(f"qps must be positive, got {qps}")
        self._qps = qps
        self._budget = budget
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._turns: dict[str, asyncio.Lock] = {}  # callers of a group wait their turn in arrival order

    def bucket(self, action: str) -> Bucket:
        group = group_of(action)
        found = self._buckets.get(group)
        if found is None:
            budget = self._budget(group)
            ceiling = min(self._qps, budget) if budget > 0 else self._qps
            found = self._buckets[group] = Bucket(ceiling, self._clock)
        return found

    @property
    def cuts(self) -> int:
        """How many times a group's rate was cut (AIMD) so far."""
        return sum(b.decreases for b in self._buckets.values())

    async def acquire(self, action: str) -> float:
        bucket = self.bucket(action)
        turn = self._turns.get(group_of(action))
        if turn is None:
            turn = self._turns[group_of(action)] = asyncio.Lock()
        async with turn:
            wait = bucket.wait_s()
            while wait > 0:  # again after the sleep: a refusal meanwhile may have slowed the group
                await asyncio.sleep(wait)
                wait = bucket.wait_s()
            return bucket.take()

    def limited(self, action: str, token: float) -> None:
        bucket = self.bucket(action)
        bucket.refund(token)
        bucket.decrease()

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
            token = await self._quota.acquire(action)
            try:
                reply = await self._inner.call(action, params)
            except V3Error as exc:
                if not throttled(exc.code):
                    self._quota.answered(action)
                    raise
                self.rate_limited += 1
                self._quota.limited(action, token)
                await asyncio.sleep(random.uniform(0, BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]))
                attempt += 1
                continue
            self._quota.answered(action)
            return reply
