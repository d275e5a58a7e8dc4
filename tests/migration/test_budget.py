"""The shadow budget: the tenant's sample share first, then one calls-per-second cap for all."""

from __future__ import annotations

import random

from proxy.migration.budget import Refusal, ShadowBudget, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=2.0, clock=clock)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 0.5  # one token back
    assert [bucket.take() for _ in range(2)] == [True, False]
    clock.now += 60  # never more than the burst
    assert [bucket.take() for _ in range(3)] == [True, True, False]


def test_sample_percent_per_tenant_with_a_default() -> None:
    budget = ShadowBudget(
        sample_percent={"a": 0.0, "b": 100.0},
        default_percent=50.0,
        max_calls_per_s=1e9,
        noise_percent=0.0,
        rng=random.Random(1),
    )
    assert {budget.admit("a") for _ in range(200)} == {Refusal.SAMPLED_OUT}
    assert {budget.admit("b") for _ in range(200)} == {None}
    admitted = sum(budget.admit("c") is None for _ in range(2000))
    assert 900 < admitted < 1100  # 50 % of 2000, binomial sd ~22
    assert {budget.admit_replay() for _ in range(100)} == {Refusal.SAMPLED_OUT}


def test_the_cap_counts_twins_and_replays_together() -> None:
    clock = Clock()
    budget = ShadowBudget(
        sample_percent={}, default_percent=100.0, max_calls_per_s=3.0, noise_percent=100.0, clock=clock
    )
    assert [budget.admit("a"), budget.admit_replay(), budget.admit("b"), budget.admit("a")] == [
        None,
        None,
        None,
        Refusal.OVER_BUDGET,
    ]
    clock.now += 1.0
    assert budget.admit("a") is None
