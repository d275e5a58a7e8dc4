"""newperson / getinfo / delperson paths, driven through the real emulator with per-request fault rules."""

from __future__ import annotations

import pytest

from proxy.domain.codes import V1Error
from proxy.domain.requests import DelPerson, GetInfo, GetPersonIds, NewPerson
from proxy.handlers.ops import DELPERSON, GETINFO, GETPERSONIDS, NEWPERSON
from tests.handlers.conftest import World, photo, uid


async def test_newperson_creates_missing_groups_for_createperson_and_copyperson(world: World) -> None:
    person, groups = uid("p"), (uid("g"), uid("g"), uid("g"))
    created, calls = await world.run_recorded(NEWPERSON, NewPerson(person, groups, photo(0, 0), "Ann", None))
    assert (created.suc_group, created.group_ids, created.suc_face) == (3, groups, 1)
    sequence = [(c.action, c.code) for c in calls if c.action != "DetectFace"]
    assert sequence == [
        ("CreatePerson", "InvalidParameterValue.GroupIdNotExist"),
        ("CreateGroup", ""),
        ("CreatePerson", ""),
        ("CopyPerson", "InvalidParameterValue.GroupIdNotExist"),
        ("CreateGroup", ""),
        ("CreateGroup", ""),
        ("CopyPerson", ""),
    ]


async def test_copyperson_into_a_group_still_missing_fails_and_the_person_stays_in_the_first(world: World) -> None:
    person, first, second = uid("p"), uid("g"), uid("g")
    # the group is created on demand, then vanishes again before the second CopyPerson (another admin, a race)
    await world.fail("CopyPerson", "InvalidParameterValue.GroupIdNotExist", times=2)
    with pytest.raises(V1Error) as info:
        await world.run(NEWPERSON, NewPerson(person, (first, second), photo(1, 0), "Bo", "desk"))
    assert (info.value.code, info.value.http_status) == (-1306, 200)
    got = await world.run(GETINFO, GetInfo(person))
    assert (got.person_name, got.tag, got.group_ids) == ("Bo", "desk", (first,))
    assert (await world.run(GETPERSONIDS, GetPersonIds(first))).person_ids == (person,)


async def test_creategroup_already_there_counts_as_done_and_the_retried_createperson_answers(world: World) -> None:
    await world.fail("CreateGroup", "InvalidParameterValue.GroupIdAlreadyExist")
    person, group = uid("p"), uid("g")
    with pytest.raises(V1Error) as info:  # here it really is missing (an injected answer): CreatePerson fails again
        await world.run(NEWPERSON, NewPerson(person, (group,), photo(2, 0), None, None))
    assert info.value.code == -1306
    created = await world.run(NEWPERSON, NewPerson(person, (group,), photo(2, 0), None, None))
    assert created.group_ids == (group,)


async def test_getinfo_of_a_person_created_without_a_name_never_shows_the_v3_stand_in(world: World) -> None:
    person = f"a@b%41-{uid('p')}"
    await world.run(NEWPERSON, NewPerson(person, (uid("g"),), photo(3, 0), None, None))
    assert (await world.run(GETINFO, GetInfo(person))).person_name == ""


async def test_delperson_keeps_the_person_when_v3_fails(world: World) -> None:
    person = uid("p")
    await world.run(NEWPERSON, NewPerson(person, (uid("g"),), photo(4, 0), "Cy", "t"))
    await world.fail("DeletePerson", "InternalError")
    with pytest.raises(V1Error) as info:
        await world.run(DELPERSON, DelPerson(person))
    assert info.value.code == 213
    # v3 still holds the person: the proxy deletes its data only once v3 confirms the deletion
    got = await world.run(GETINFO, GetInfo(person))
    assert (got.person_name, got.tag) == ("Cy", "t")
