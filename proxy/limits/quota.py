"""The upstream quota: a GCRA per v3 interface group; a call books the next free slot and waits for it.

Generic cell rate algorithm with reservations: each group keeps a theoretical arrival time (TAT).
A call at `now` conforms at ``max(now, TAT - tau)``; if that is within the caller's wait it books
it (TAT += 1/qps) and sleeps until then, else it is refused at once (no point waiting for a
refusal). With the default burst of 1 (tau = 0) calls are spaced exactly 1/qps apart, so no
one-second window ever holds more than `qps` calls. The slot book is in-process
(`LocalSlotBook`) or in Redis (`proxy.limits.redis.RedisSlotBook`), shared by every worker and
replica.

Priorities: SERVE (a v1 request is waiting) books future slots; BACKGROUND (the backfill tool)
only takes a slot that is free *now* and otherwise polls, so it uses spare capacity and never
pushes a waiting request back by more than one slot.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from proxy.limits.groups import DEFAULT_GROUP_QPS, GROUP_DEFAULT_QPS, group_of


class Priority(enum.Enum):
    SERVE = "serve"  # a v1 request waits for this call: may book a slot up to its wait ahead
    BACKGROUND = "background"  # backfill: only a slot free now; polls otherwise


@dataclass(frozen=True, slots=True)
class GroupRate:
    """One group's budget: `qps` calls per second (0: unlimited), `burst` calls at once."""

    qps: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.qps < 0 or self.burst < 1:
            raise ValueError("qps >= 0 and burst >= 1")

    @property
    def unlimited(self) -> bool:
        return self.qps == 0

    def period_s(self, share: float = 1.0) -> float:
        """Seconds between two calls (for a process holding `share` of the budget)."""
        return 1.0 / (self.qps * share)

    def tolerance_s(self, share: float = 1.0) -> float:
        return (self.burst - 1) * self.period_s(share)


@dataclass(frozen=True)
class QuotaPlan:
    """Budgets by group: Tencent's defaults (50/s; 5 and 6 for two groups), `default` and overrides."""

    default_qps: float = DEFAULT_GROUP_QPS
    burst: int = 1
    groups: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    _rates: dict[str, GroupRate] = field(default_factory=dict, init=False, repr=False, compare=False)

    def rate(self, group: str) -> GroupRate:
        found = self._rates.get(group)  # worked out once per group: every v3 call asks
        if found is None:
            qps = self.groups.get(group)
            if qps is None:
                qps = GROUP_DEFAULT_QPS.get(group, self.default_qps) if self.default_qps else 0.0
            found = self._rates[group] = GroupRate(qps=qps, burst=self.burst)
        return found


@dataclass(frozen=True, slots=True)
class Booking:
    """A slot booked (`admitted`, to be used after `wait_s`), or refused (`wait_s`: how far the next one is)."""

    admitted: bool
    wait_s: float


class SlotBook(Protocol):
    """Where the groups' arrival times live: this process, or Redis for the whole fleet."""

    async def book(self, group: str, rate: GroupRate, *, max_wait_s: float) -> Booking: ...


class LocalSlotBook:
    """The GCRA in this process (no lock needed: one event loop). `share`: this process's part of each
    budget when several processes pace themselves without Redis (1/workers)."""

    def __init__(self, *, share: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self._share = share
        self._clock = clock
        self._tat: dict[str, float] = {}

    async def book(self, group: str, rate: GroupRate, *, max_wait_s: float) -> Booking:
        return self.book_now(group, rate, max_wait_s=max_wait_s)

    def book_now(self, group: str, rate: GroupRate, *, max_wait_s: float) -> Booking:
        now = self._clock()
        tat = max(self._tat.get(group, now), now)
        wait = max(0.0, tat - rate.tolerance_s(self._share) - now)
        if wait > max_wait_s:
            return Booking(False, wait)
        self._tat[group] = tat + rate.period_s(self._share)
        return Booking(True, wait)


Sleep = Callable[[float], Awaitable[None]]


class UpstreamQuota:
    """The limiter every v3 call draws from (and the backfill tool, at BACKGROUND priority).

    ``await quota.acquire(action, wait_s=..., priority=...)`` returns True once the call may be sent
    (after sleeping for its slot), False when no slot is free within `wait_s`. `priority` defaults
    to the quota's own (`default_priority`); `patience_s` makes every wait at least that long (a
    background tool would rather wait than fail).
    """

    def __init__(
        self,
        book: SlotBook,
        plan: QuotaPlan | None = None,
        *,
        default_priority: Priority = Priority.SERVE,
        patience_s: float = 0.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._book = book
        self._plan = plan or QuotaPlan()
        self._priority = default_priority
        self._patience_s = patience_s
        self._sleep = sleep
        self._clock = clock

    @property
    def priority(self) -> Priority:
        """How this process's calls draw by default (BACKGROUND for a backfill)."""
        return self._priority

    @property
    def plan(self) -> QuotaPlan:
        return self._plan

    def unlimited(self, action: str) -> bool:
        """True when `action`'s group has no budget: `acquire` would admit at once."""
        return self._plan.rate(group_of(action)).unlimited

    def configure(self, plan: QuotaPlan) -> None:
        """New budgets (a config reload); slots already booked stay booked."""
        self._plan = plan

    async def acquire(self, action: str, *, wait_s: float, priority: Priority | None = None) -> bool:
        """Take one slot of `action`'s interface group, waiting at most `wait_s`; False if none in time."""
        group = group_of(action)
        rate = self._plan.rate(group)
        if rate.unlimited:
            return True
        priority = priority or self._priority
        wait_s = max(wait_s, self._patience_s)
        if priority is Priority.SERVE:
            booking = await self._book.book(group, rate, max_wait_s=max(0.0, wait_s))
            if booking.admitted and booking.wait_s > 0:
                await self._sleep(booking.wait_s)
            return booking.admitted
        deadline = self._clock() + wait_s
        while True:
            booking = await self._book.book(group, rate, max_wait_s=0.0)
            if booking.admitted:
                return True
            left = deadline - self._clock()
            if left <= 0:
                return False
            # poll again when the next slot may be free, spread so pollers do not wake together
            pause = max(booking.wait_s, rate.period_s()) * random.uniform(1.0, 1.5)
            await self._sleep(min(pause, left))
