"""The backfill's own quota: v3's one-second window kept per interface group, AIMD on RequestLimitExceeded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from proxy.backfill import quota
from proxy.backfill.quota import AimdQuota, Bucket, QuotaV3Client
from proxy.v3.client import V3Client, V3Reply
from proxy.v3.errors import V3Error


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_at_most_the_rate_in_any_window_counted_when_calls_go_and_a_missed_slot_is_caught_up() -> None:
    clock = Clock()
    bucket = Bucket(4.0, clock)
    waits = []
    for _ in range(5):
        wait = bucket.wait_s()
        waits.append(round(wait, 6))
        clock.now += wait
        bucket.take()
    # up to twice the rate while the window has room, then the first call's second (+ the margin) is over
    assert waits == [0.0, 0.125, 0.125, 0.125, round(1.0 - 0.375 + quota.MARGIN_S, 6)]
    clock.now += 0.6  # nobody called for a while: those slots are not lost, the window lets calls catch up
    assert [round(w, 6) for w in _take(bucket, clock, 3)] == [0.0, 0.125, 0.125]


def _take(bucket: Bucket, clock: Clock, calls: int) -> list[float]:
    waits = []
    for _ in range(calls):
        wait = bucket.wait_s()
        waits.append(wait)
        clock.now += wait
        bucket.take()
    return waits


def test_a_caller_woken_late_never_makes_the_next_call_early() -> None:
    clock = Clock()
    bucket = Bucket(2.0, clock)
    _take(bucket, clock, 2)  # at 100.0 and 100.25 (twice the rate at most)
    wait = bucket.wait_s()
    assert round(wait, 6) == round(0.75 + quota.MARGIN_S, 6)  # the window: 100.0's second is over
    clock.now += wait + 0.3  # the caller oversleeps: its call counts from when it went (101.305)
    bucket.take()
    assert round(bucket.wait_s(), 6) == 0.25  # the window holds 100.25 and 101.305: only the burst gap
    clock.now += 0.25
    bucket.take()
    # 101.305 and 101.555 in the window: a third waits for 101.305's second, not for a schedule kept from 100.0
    assert round(bucket.wait_s(), 6) == round(0.75 + quota.MARGIN_S, 6)


def test_a_call_v3_refused_gives_its_place_in_the_window_back() -> None:
    clock = Clock()
    bucket = Bucket(2.0, clock)
    first = bucket.take()
    clock.now += 0.25
    bucket.take()
    assert round(bucket.wait_s(), 6) == round(0.75 + quota.MARGIN_S, 6)  # full
    bucket.refund(first)  # v3 did not count it: neither do we
    assert round(bucket.wait_s(), 6) == 0.25  # only the burst gap after the last call
    bucket.refund(first)  # twice (or once it left the window): nothing to give back


def test_a_stray_refusal_at_the_windows_edge_does_not_slow_down() -> None:
    clock = Clock()
    bucket = Bucket(50.0, clock)
    for _ in range(4):  # 4 refusals a second: under 10 % of 50
        bucket.decrease()
        clock.now += 0.3
    assert (bucket.rate, bucket.decreases) == (50.0, 0)
    for _ in range(5):  # 5 within one second: the budget is smaller than the rate
        bucket.decrease()
    assert (bucket.rate, bucket.decreases) == (40.0, 1)


def test_rate_limited_cuts_a_fifth_once_per_second_then_recovers_fast_to_near_the_refused_rate() -> None:
    clock = Clock()
    bucket = Bucket(40.0, clock)
    for _ in range(8):  # the same rejected second: one signal
        bucket.decrease()
    assert bucket.rate == 32.0
    clock.now += 1.0
    for _ in range(4):
        bucket.decrease()  # refused at 32
    assert bucket.rate == pytest.approx(25.6)
    for _ in range(20):  # fast: 25 % of the ceiling per second, up to 95 % of the refused rate (30.4)
        bucket.increase()
    assert 30.4 <= bucket.rate < 31.2
    for _ in range(100):  # then slowly: 2 % of the ceiling per second
        bucket.increase()
    assert 31.2 < bucket.rate < 34.0  # rate² grows by 1.6 a call: ~33.3
    for _ in range(600):
        bucket.increase()
    assert bucket.rate == 40.0  # never above the ceiling
    for _ in range(10_000):
        bucket.decrease()
        bucket.decrease()
        clock.now += 1.0
    assert bucket.rate == pytest.approx(40.0 * quota.FLOOR)


def test_a_budget_below_the_ceiling_is_found_and_held() -> None:
    """v3 refuses whenever the backfill goes above 20/s (live traffic has the rest): the rate settles near 20."""
    clock = Clock()
    bucket = Bucket(50.0, clock)
    rates = []
    for _second in range(120):
        for _call in range(int(bucket.rate)):
            if bucket.rate > 20.0:
                bucket.decrease()
            else:
                bucket.increase()
        clock.now += 1.0
        rates.append(bucket.rate)
    assert all(15.0 <= r <= 21.0 for r in rates[-60:]), rates[-60:]


def test_the_ceiling_is_qps_or_the_groups_lower_budget_in_the_fleets_plan() -> None:
    limits = AimdQuota(50.0, budget=lambda group: {"library": 20.0, "search": 80.0}.get(group, 0.0))
    assert limits.bucket("CreateFace").ceiling == 20.0  # the plan gives the group less than --qps
    assert limits.bucket("SearchFaces").ceiling == 50.0  # more: --qps
    assert limits.bucket("DetectFace").ceiling == 50.0  # no limit in the plan: --qps


def test_actions_of_one_interface_group_share_a_bucket() -> None:
    limits = AimdQuota(10.0)
    assert limits.bucket("CreatePerson") is limits.bucket("CreateFace")
    assert limits.bucket("CreatePerson") is not limits.bucket("DetectFace")
    assert limits.bucket("VerifyFace") is not limits.bucket("GetPersonBaseInfo")


class Throttled(V3Client):
    """Answers RequestLimitExceeded `times` times, then succeeds."""

    __slots__ = ("calls", "times")

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls = 0

    async def call(self, action: str, params: Mapping[str, Any]) -> V3Reply:
        self.calls += 1
        if self.calls <= self.times:
            raise V3Error(action, "RequestLimitExceeded", "slow down", f"rid-{self.calls}")
        if action == "DeleteFace":
            raise V3Error(action, "InvalidParameterValue.FaceIdNotExist", "no", "rid-x")
        return V3Reply(action, "rid-ok", {"FaceId": "f1"})


async def test_a_rate_limited_call_is_retried_never_failed_and_slows_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quota, "BACKOFF_S", (0.001,))
    inner = Throttled(times=3)
    limits = AimdQuota(10.0)
    client = QuotaV3Client(inner, limits)
    reply = await client.call("CreatePerson", {})
    assert (reply.request_id, inner.calls, client.rate_limited) == ("rid-ok", 4, 3)
    assert limits.bucket("CreatePerson").rate < 10.0  # 3 refusals within a second: over 10 % of 10/s
    assert limits.cuts == 1
    with pytest.raises(V3Error) as caught:  # any other error reaches the handler as it is
        await client.call("DeleteFace", {})
    assert caught.value.code == "InvalidParameterValue.FaceIdNotExist"
