"""The body budget and the per-tenant slots: waiting, refusing with 15, giving back, draining."""

from __future__ import annotations

import asyncio

import pytest

from proxy.v1.admission import BodyBudget, TenantSlots
from proxy.v1.errors import V1Error


async def test_budget_waits_for_room_then_grants_in_order() -> None:
    budget = BodyBudget(100)
    order: list[str] = []
    release = asyncio.Event()

    async def hold(name: str, size: int) -> None:
        async with budget.reserve(size, wait_s=5):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(hold("a", 80))
    await asyncio.sleep(0)
    second = asyncio.create_task(hold("b", 50))
    third = asyncio.create_task(hold("c", 10))  # fits, but waits its turn behind b (no overtaking)
    await asyncio.sleep(0.05)
    assert order == ["a"] and budget.used == 80
    release.set()
    await asyncio.gather(first, second, third)
    assert order == ["a", "b", "c"]
    assert budget.used == 0


async def test_budget_refuses_with_15_after_the_wait_and_leaves_nothing_behind() -> None:
    budget = BodyBudget(100)
    async with budget.reserve(100, wait_s=1):
        with pytest.raises(V1Error) as info:
            async with budget.reserve(1, wait_s=0.05):
                pass
        assert info.value.code == 15
    assert budget.used == 0
    async with budget.reserve(100, wait_s=0):
        assert budget.used == 100


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    budget = BodyBudget(10)
    async with budget.reserve(10, wait_s=1):
        waiting = asyncio.create_task(budget.reserve(5, wait_s=5).__aenter__())
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert budget.used == 0
    async with budget.reserve(10, wait_s=0):
        pass


async def test_draining_reports_the_peak_once_per_burst() -> None:
    peaks: list[int] = []
    budget = BodyBudget(100, on_drained=peaks.append)
    async with budget.reserve(30, wait_s=0), budget.reserve(50, wait_s=0):
        pass
    async with budget.reserve(5, wait_s=0):
        pass
    assert peaks == [80, 5]


def test_tenant_slots_refuse_beyond_the_limit_per_tenant() -> None:
    slots = TenantSlots()
    with slots.hold("a", limit=1):
        with pytest.raises(V1Error) as info, slots.hold("a", limit=1):
            pass
        assert info.value.code == 15
        with slots.hold("b", limit=1):
            assert slots.busy("b") == 1
    assert slots.busy("a") == 0
