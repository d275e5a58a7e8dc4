"""The backfill's own quota: evenly spaced calls per interface group, AIMD on RequestLimitExceeded."""

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


def test_calls_are_spaced_one_period_apart_and_a_free_slot_costs_no_wait() -> None:
    clock = Clock()
    bucket = Bucket(50.0, clock)
    assert [round(bucket.reserve(), 6) for _ in range(4)] == [0.0, 0.02, 0.04, 0.06]
    clock.now += 1.0  # idle: no credit is saved up beyond one call
    assert [round(bucket.reserve(), 6) for _ in range(2)] == [0.0, 0.02]


def test_rate_limited_cuts_a_fifth_once_per_second_then_recovers_fast_to_near_the_refused_rate() -> None:
    clock = Clock()
    bucket = Bucket(40.0, clock)
    bucket.decrease()
    bucket.decrease()  # the same rejected second: one signal
    assert bucket.rate == 32.0
    clock.now += 1.0
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
    limits = AimdQuota(1000.0)
    client = QuotaV3Client(inner, limits)
    reply = await client.call("CreatePerson", {})
    assert (reply.request_id, inner.calls, client.rate_limited) == ("rid-ok", 4, 3)
    assert limits.bucket("CreatePerson").rate < 1000.0
    with pytest.raises(V3Error) as caught:  # any other error reaches the handler as it is
        await client.call("DeleteFace", {})
    assert caught.value.code == "InvalidParameterValue.FaceIdNotExist"
