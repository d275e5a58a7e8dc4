"""The upstream quota: GCRA slot booking, waits, priorities, groups; in-process and in Redis."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from proxy.limits.groups import ACTION_GROUP, DEFAULT_GROUP_QPS, group_of
from proxy.limits.quota import Booking, GroupRate, LocalSlotBook, Priority, QuotaPlan, UpstreamQuota
from proxy.limits.redis_backend import Breaker, RedisConfig, RedisSlotBook, connect
from tests.fixtures_redis import RedisTarget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_groups_follow_tencents_interface_groups() -> None:
    assert group_of("CreateFace") == group_of("GetPersonBaseInfo") == group_of("CreateGroup") == "library"
    assert group_of("SearchFaces") == "search"
    assert group_of("VerifyFace") == "verify"
    assert group_of("CompareFace") == "compare"
    assert group_of("DetectFace") == "detect"
    assert group_of("SomethingNew") == "action:SomethingNew"
    plan = QuotaPlan()
    assert plan.rate("library") == GroupRate(DEFAULT_GROUP_QPS)
    assert plan.rate("liveness_accurate").qps == 5
    assert QuotaPlan(default_qps=20, groups={"search": 7}).rate("search").qps == 7
    assert QuotaPlan(default_qps=0).rate("library").unlimited


def test_every_action_the_proxy_calls_has_a_group() -> None:
    from proxy.translate import v3api

    actions = {value for name, value in vars(v3api).items() if name.isupper() and isinstance(value, str)}
    actions = {a for a in actions if a[:1].isupper() and "." not in a}
    assert len(actions) >= 14
    assert not actions - set(ACTION_GROUP)


def test_local_book_spaces_calls_one_period_apart() -> None:
    clock = FakeClock()
    book = LocalSlotBook(clock=clock)
    rate = GroupRate(qps=10)
    bookings = [book.book_now("g", rate, max_wait_s=1.0) for _ in range(4)]
    assert [b.wait_s for b in bookings] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert all(b.admitted for b in bookings)
    # more than the wait allows: refused, saying how far the next slot is, and nothing is booked
    refused = book.book_now("g", rate, max_wait_s=0.35)
    assert not refused.admitted and refused.wait_s == pytest.approx(0.4)
    assert book.book_now("g", rate, max_wait_s=0.45).wait_s == pytest.approx(0.4)
    # another group has its own budget
    assert book.book_now("other", rate, max_wait_s=0).admitted


def test_local_book_burst_and_share() -> None:
    clock = FakeClock()
    burst = LocalSlotBook(clock=clock)
    rate = GroupRate(qps=10, burst=3)
    assert [burst.book_now("g", rate, max_wait_s=0).admitted for _ in range(4)] == [True, True, True, False]
    half = LocalSlotBook(clock=clock, share=0.5)  # one of two workers pacing alone: 5/s each
    assert [half.book_now("g", GroupRate(10), max_wait_s=1).wait_s for _ in range(3)] == pytest.approx(
        [0.0, 0.2, 0.4]
    )


async def test_serve_waits_for_its_slot_or_is_refused_at_once() -> None:
    clock = FakeClock()
    quota = UpstreamQuota(LocalSlotBook(clock=clock), QuotaPlan(default_qps=10), sleep=clock.sleep, clock=clock)
    assert await quota.acquire("CreateFace", wait_s=0.5)
    assert await quota.acquire("CreateFace", wait_s=0.5)
    assert clock.slept == pytest.approx([0.1])  # slept until its slot
    start = clock.now
    assert not await quota.acquire("CreateFace", wait_s=0.05)  # next slot 0.1 s away: refused without sleeping
    assert clock.now == start


async def test_unlimited_group_never_waits() -> None:
    clock = FakeClock()
    quota = UpstreamQuota(LocalSlotBook(clock=clock), QuotaPlan(default_qps=0), sleep=clock.sleep, clock=clock)
    for _ in range(100):
        assert await quota.acquire("SearchFaces", wait_s=0)
    assert clock.slept == []


async def test_background_takes_only_free_slots_and_yields_to_serving_calls() -> None:
    clock = FakeClock()
    book = LocalSlotBook(clock=clock)
    quota = UpstreamQuota(book, QuotaPlan(default_qps=10), sleep=clock.sleep, clock=clock)
    # serving traffic booked the next second
    for _ in range(10):
        book.book_now("library", GroupRate(10), max_wait_s=2)
    assert not await quota.acquire("CreateFace", wait_s=0.5, priority=Priority.BACKGROUND)
    # with a long enough wait it gets the first slot after the booked ones, by polling
    assert await quota.acquire("CreateFace", wait_s=5, priority=Priority.BACKGROUND)
    assert clock.now - 100.0 >= 1.0


def redis_book(target: RedisTarget, fallback: LocalSlotBook | None = None) -> RedisSlotBook:
    config = RedisConfig(url=target.url, password=target.password, key_prefix=target.key_prefix)
    return RedisSlotBook(
        connect(config), key_prefix=target.key_prefix, breaker=Breaker(1.0), fallback=fallback or LocalSlotBook()
    )


async def test_redis_book_is_one_schedule_for_every_process(redis_target: RedisTarget) -> None:
    books = [redis_book(redis_target) for _ in range(3)]  # three processes' clients
    rate = GroupRate(qps=100)
    period = 0.01
    for book in books:  # connected before the clock matters
        await book.book("warm-up", rate, max_wait_s=1)
    # each slot is known within [asked, answered] + wait (Redis books it on its own clock, somewhere in between)
    slots: list[tuple[float, float, float]] = []
    for i in range(9):
        asked = time.monotonic()
        booking = await books[i % 3].book("library", rate, max_wait_s=1)
        answered = time.monotonic()
        assert booking.admitted
        slots.append((asked + booking.wait_s, answered + booking.wait_s, booking.wait_s))
    # one schedule, whoever booked: a slot that had to wait is exactly one period after the one before; a slot
    # that did not (its booking reached Redis after that, on a starved machine) is at least one period after it
    for (lo_before, hi_before, _), (lo, hi, wait) in itertools.pairwise(slots):
        assert hi - lo_before >= period - 1e-6, slots  # never closer than the rate allows
        if wait > 0:
            assert lo - hi_before <= period + 1e-6, slots
    asked = time.monotonic()
    probe = await books[0].book("library", rate, max_wait_s=0.0)
    answered = time.monotonic()
    next_free = (slots[-1][0] + period, slots[-1][1] + period)  # the next slot, within its bounds
    if answered < next_free[0]:  # Redis saw the probe before the next slot: none is free now, and it says how far
        assert not probe.admitted and probe.wait_s >= next_free[0] - answered - 1e-6, (probe, slots)
    elif asked > next_free[1]:  # a starved machine asked after it: that slot is free at once
        assert probe.admitted and probe.wait_s == 0, (probe, slots)


class RecordingBook:
    """A slot book that notes each admitted call's slot on the local clock, bracketed by when the booking was
    asked and answered (Redis books it on its own clock in between), before anyone sleeps."""

    def __init__(self, inner: RedisSlotBook, slots: list[tuple[float, float]]) -> None:
        self._inner = inner
        self._slots = slots

    async def book(self, group: str, rate: GroupRate, *, max_wait_s: float) -> Booking:
        asked = time.monotonic()
        booking = await self._inner.book(group, rate, max_wait_s=max_wait_s)
        if booking.admitted:
            self._slots.append((asked + booking.wait_s, time.monotonic() + booking.wait_s))
        return booking


async def test_redis_quota_holds_the_rate_across_processes(redis_target: RedisTarget) -> None:
    plan = QuotaPlan(default_qps=50)
    slots: list[tuple[float, float]] = []
    quotas = [UpstreamQuota(RecordingBook(redis_book(redis_target), slots), plan) for _ in range(4)]
    admitted = 0

    async def caller(quota: UpstreamQuota) -> None:
        nonlocal admitted
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            if await quota.acquire("CreateFace", wait_s=2):
                admitted += 1

    await asyncio.gather(*(caller(quotas[i % 4]) for i in range(40)))
    slots.sort()
    # what a limiter guarantees is a ceiling: on a starved machine callers may book less than the quota, never more.
    # Every caller's first call is admitted (40 slots are 0.8 s of schedule, within its 2 s wait) however slow
    # the machine; how many more got through depends on the CPU the callers had, so it is not asserted here.
    assert admitted == len(slots) >= 40
    # four processes, one schedule: n slots span at least (n - 1) periods (50 a second), never less
    assert (len(slots) - 1) / 50 <= max(hi for _, hi in slots) - slots[0][0] + 1e-6
    # and no one-second window holds more than 51 of them (counting those certainly inside [lo, lo + 1 s])
    for lo, _ in slots:
        inside = sum(1 for other_lo, other_hi in slots if other_lo >= lo and other_hi <= lo + 1.0)
        assert inside <= 51, (lo, inside)


async def test_redis_down_falls_back_to_this_processs_share() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = RedisConfig(url=f"redis://127.0.0.1:{port}/0", timeout_s=0.3)
    breaker = Breaker(60.0)
    book = RedisSlotBook(connect(config), key_prefix="x:", breaker=breaker, fallback=LocalSlotBook(share=0.5))
    rate = GroupRate(qps=10)
    first = await book.book("library", rate, max_wait_s=1)
    second = await book.book("library", rate, max_wait_s=1)
    assert first.admitted and second.admitted
    assert second.wait_s == pytest.approx(0.2, abs=0.01)  # half of 10/s, paced here
    assert breaker.open
