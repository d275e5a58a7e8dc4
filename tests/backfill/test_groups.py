"""The first newperson into a group goes alone; once the group is known the others go at once."""

from __future__ import annotations

import asyncio

from proxy.backfill.groups import GroupGate

GROUP = ("1250000077", "archive", "staff")


async def test_the_first_person_into_a_new_group_goes_alone_then_the_rest_together() -> None:
    gate = GroupGate()
    inside: list[int] = []
    most = 0
    first_done = asyncio.Event()

    async def newperson(n: int) -> None:
        nonlocal most
        async with gate.turn([GROUP]):
            inside.append(n)
            most = max(most, len(inside))
            if n == 0:
                await asyncio.sleep(0.01)  # creating the group, then the person
                assert len(inside) == 1  # nobody else got in meanwhile
                gate.known([GROUP])
                first_done.set()
            else:
                await asyncio.sleep(0.01)
            inside.remove(n)

    await asyncio.gather(*(newperson(n) for n in range(5)))
    assert first_done.is_set()
    assert most == 4  # the four after the first ran at once


async def test_a_failed_first_person_hands_the_turn_to_the_next() -> None:
    gate = GroupGate()
    order: list[str] = []

    async def failing() -> None:
        async with gate.turn([GROUP, ("1250000077", "archive", "guests")]):
            order.append("first: failed, the group not known")

    async def second() -> None:
        async with gate.turn([("1250000077", "archive", "guests"), GROUP]):  # another order: no deadlock
            order.append("second: creates")
            gate.known([GROUP, ("1250000077", "archive", "guests")])

    await asyncio.wait_for(asyncio.gather(failing(), second()), timeout=5)
    assert order == ["first: failed, the group not known", "second: creates"]
    async with gate.turn([GROUP]):  # known: no turn to wait for
        pass
