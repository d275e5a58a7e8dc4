"""The write journal in the handlers: unknown outcomes settled from v3, retries answered, crashes repaired.

The emulator applies a call after its injected latency: with latency above the proxy's read timeout,
v3 applies a write the proxy gave up on (the outcome the proxy cannot know).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.commands.demo import DEMO_APPID, DEMO_SECRET_ID, DEMO_SECRET_KEY, DEMO_V3_ID, DEMO_V3_KEY, start_stack
from proxy.domain.codes import V1Error
from proxy.domain.requests import AddFace, DelPerson, GetInfo, NewPerson, SetInfo
from proxy.handlers.journal import OWNER
from proxy.handlers.ops import ADDFACE, DELPERSON, GETINFO, NEWPERSON, SETINFO
from proxy.handlers.reconcile import sweep_once
from proxy.settings import Settings, parse_settings
from proxy.store.journal import JournalIntent, Lease
from proxy.translate import v3api
from tests.handlers.conftest import World, photo, uid

READ_TIMEOUT_S = 0.3
SLOW_MS = 700  # the emulator applies the call after this: the proxy has given up by then
SETTLE_S = 0.2


def settings_for(store_url: str) -> Any:
    def build(emulator_url: str) -> Settings:
        return parse_settings(
            {
                "listen": {"host": "127.0.0.1", "port": 0},
                "admin": {"port": 0},
                "upstream": {
                    "endpoint": emulator_url,
                    "secret_id": DEMO_V3_ID,
                    "secret_key": DEMO_V3_KEY,
                    "read_timeout": READ_TIMEOUT_S,
                },
                "tenants": [
                    {"appid": DEMO_APPID, "legacy_keys": [{"secret_id": DEMO_SECRET_ID, "secret_key": DEMO_SECRET_KEY}]}
                ],
                "store": {"url": store_url},
                "journal": {"settle_after_s": SETTLE_S, "lease_s": 30, "sweep_interval_s": 0},
                "logging": {"format": "console"},
            }
        )

    return build


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    stack = await start_stack(store_url=url, settings_for=settings_for(url))
    try:
        yield World(stack)
    finally:
        await stack.close()


async def slow_v3(world: World, latency_ms: int) -> None:
    faults = {"reset": True, "latency_ms": latency_ms}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{world.stack.emulator.url}/_emulator/faults", json=faults) as answer,
    ):
        assert answer.status == 200, await answer.text()


async def applied_meanwhile(world: World) -> None:
    """Faults off, and wait until the emulator has finished the call the proxy gave up on."""
    await slow_v3(world, 0)
    await asyncio.sleep(SLOW_MS / 1000 + SETTLE_S)


async def open_entries(world: World, person: str) -> list[str]:
    entries = await world.services.store.journal_for_subject(world.scope.store_key, person)
    return [f"{e.op}:{e.state}" for e in entries]


async def test_newperson_that_timed_out_after_v3_applied_it_succeeds_on_retry(world: World) -> None:
    person, group = uid("p"), uid("g")
    request = NewPerson(person, (group,), photo(1, 0), "Ann", "tag a")
    await world.run(NEWPERSON, NewPerson(uid("warm"), (group,), photo(2, 0), None, None))  # the group exists
    await slow_v3(world, SLOW_MS)
    with pytest.raises(V1Error) as timed_out:
        await world.run(NEWPERSON, request)
    assert timed_out.value.code == 213
    assert await open_entries(world, person) == ["newperson:unknown"]
    await applied_meanwhile(world)

    retried = await world.run(NEWPERSON, request)  # the same request again: v1 would have said 0 the first time
    assert (retried.person_id, retried.suc_group, retried.suc_face) == (person, 1, 1)
    assert retried.group_ids == (group,)
    info = await world.run(GETINFO, GetInfo(person))
    assert (info.person_name, info.tag, info.face_ids) == ("Ann", "tag a", (retried.face_id,))
    assert await open_entries(world, person) == []
    # answered now: the same request once more is a new newperson of an existing person
    with pytest.raises(V1Error) as again:
        await world.run(NEWPERSON, request)
    assert again.value.code == -1302


async def test_newperson_retry_after_a_timeout_v3_did_not_apply_creates_the_person(world: World) -> None:
    person = uid("p")
    request = NewPerson(person, (uid("g"),), photo(1, 1), "Bo", None)
    await world.fail("CreatePerson", "InternalError")  # answered before anything is applied
    with pytest.raises(V1Error):
        await world.run(NEWPERSON, request)
    assert await open_entries(world, person) == ["newperson:unknown"]
    created = await world.run(NEWPERSON, request)
    assert created.suc_face == 1
    assert (await world.run(GETINFO, GetInfo(person))).person_name == "Bo"
    assert await open_entries(world, person) == []


async def test_setinfo_with_an_unknown_outcome_is_settled_by_the_sweeper(world: World) -> None:
    person = uid("p")
    await world.run(NEWPERSON, NewPerson(person, (uid("g"),), photo(3, 0), "old", "t"))
    await slow_v3(world, SLOW_MS)
    with pytest.raises(V1Error):
        await world.run(SETINFO, SetInfo(person, "new name", "new tag"))
    assert (await world.services.store.get_person(world.scope.store_key, person)).name == "old"  # type: ignore[union-attr]
    await applied_meanwhile(world)
    assert await sweep_once(world.services) == 1
    record = await world.services.store.get_person(world.scope.store_key, person)
    assert record is not None and (record.name, record.tag) == ("new name", "new tag")
    assert await open_entries(world, person) == []
    stats = await world.services.store.journal_stats("write", now=time.time())
    assert (stats.counts["unknown"], stats.counts["pending"]) == (0, 0)


async def test_delperson_is_applied_locally_only_once_v3_confirms(world: World) -> None:
    person = uid("p")
    await world.run(NEWPERSON, NewPerson(person, (uid("g"),), photo(4, 0), "Cy", "t"))
    await slow_v3(world, SLOW_MS)
    with pytest.raises(V1Error):
        await world.run(DELPERSON, DelPerson(person))
    assert await world.services.store.get_person(world.scope.store_key, person) is not None  # not yet confirmed
    await applied_meanwhile(world)
    # the next request touching the person settles it: v3 deleted it, so the proxy forgets it too
    with pytest.raises(V1Error) as gone:
        await world.run(GETINFO, GetInfo(person))
    assert gone.value.code == -1303
    assert await world.services.store.get_person(world.scope.store_key, person) is None
    assert await world.services.store.get_person_faces(world.scope.store_key, person) == []
    assert not await world.services.store.is_known_in_v3(world.scope.store_key, person)


async def test_addface_with_an_unknown_outcome_keeps_every_face_v3_holds(world: World) -> None:
    person = uid("p")
    await world.run(NEWPERSON, NewPerson(person, (uid("g"),), photo(5, 0), None, None))
    await slow_v3(world, SLOW_MS)
    with pytest.raises(V1Error):
        await world.run(ADDFACE, AddFace(person, (photo(5, 1), photo(5, 2)), "face tag"))
    await applied_meanwhile(world)
    assert await sweep_once(world.services) == 1
    info = await world.run(GETINFO, GetInfo(person))
    assert len(info.face_ids) == 3
    stored = await world.services.store.get_person_faces(world.scope.store_key, person)
    assert sorted(r.face_id for r in stored) == sorted(info.face_ids)
    assert sorted(r.tag or "" for r in stored) == ["", "face tag", "face tag"]


async def test_a_write_cut_short_by_a_crash_is_settled_once_its_lease_runs_out(world: World) -> None:
    """A process died between CreatePerson and the store: its entry is pending under a dead lease."""
    services, scope = world.services, world.scope
    person, group = uid("p"), uid("g")
    v3_person = scope.v3_id(person)
    await world.run(NEWPERSON, NewPerson(uid("warm"), (group,), photo(6, 0), None, None))
    intent = {"name": "Dee", "tag": "kept", "v3_name": "Dee", "v3_person": v3_person,
              "writer_key": scope.writer_key(v3_person)}  # fmt: skip
    dead = Lease("a-process-that-died", 0.5)
    await services.store.journal_open(
        JournalIntent("write", scope.store_key, "newperson", person, (), intent), now=time.time(), lease=dead
    )
    await services.v3.call(
        v3api.CREATE_PERSON,
        {"GroupId": scope.v3_id(group), "PersonId": v3_person, "PersonName": "Dee", "Image": _b64(photo(6, 1).data)},
    )
    assert await sweep_once(services) == 0  # still leased
    await asyncio.sleep(0.6)
    assert await sweep_once(services) == 1
    info = await world.run(GETINFO, GetInfo(person))
    assert (info.person_name, info.tag, len(info.face_ids)) == ("Dee", "kept", 1)
    assert await services.store.is_known_in_v3(scope.store_key, person)
    (entry,) = await services.store.journal_for_subject(scope.store_key, person, open_only=False)
    assert (entry.state, entry.lease_owner) == ("applied", None)
    assert dead.owner != OWNER


async def test_an_entry_for_a_person_v3_does_not_hold_removes_the_local_residue(world: World) -> None:
    services, scope = world.services, world.scope
    person = uid("p")
    v3_person = scope.v3_id(person)
    await world.run(NEWPERSON, NewPerson(person, (uid("g"),), photo(7, 0), "Eve", None))
    await services.v3.call(v3api.DELETE_PERSON, {"PersonId": v3_person})  # gone behind the proxy's back
    intent = {"v3_person": v3_person, "writer_key": scope.writer_key(v3_person)}
    await services.store.journal_open(
        JournalIntent("write", scope.store_key, "addface", person, (), intent), now=time.time() - 1
    )
    assert await sweep_once(services) == 1
    assert await services.store.get_person(scope.store_key, person) is None
    assert await services.store.get_person_faces(scope.store_key, person) == []
    entries = await services.store.journal_for_subject(scope.store_key, person, open_only=False)
    assert [(e.op, e.state, e.last_error) for e in entries] == [
        ("newperson", "applied", None),
        ("addface", "failed", "v3 has no such person"),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_store_world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    url: str = (
        f"sqlite:///{tmp_path / 'meta.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_schema_url")
    )
    stack = await start_stack(store_url=url, settings_for=settings_for(url))
    try:
        yield World(stack)
    finally:
        await stack.close()


async def test_a_write_inside_its_settle_delay_is_not_settled_with_a_due_entry_of_the_same_person(
    any_store_world: World,
) -> None:
    """A newperson whose CreatePerson v3 has yet to apply, and an older write of the person already due:
    settling both now would read "no such person", fail the newperson and forget the person, and v3 would
    then create it (with its name) behind the store's back. Nothing settles until every entry is due."""
    world = any_store_world
    services, scope = world.services, world.scope
    person, group = uid("p"), uid("g")
    v3_person = scope.v3_id(person)
    await world.run(NEWPERSON, NewPerson(uid("warm"), (group,), photo(8, 0), None, None))
    keys = {"v3_person": v3_person, "writer_key": scope.writer_key(v3_person)}
    await services.store.journal_open(
        JournalIntent("write", scope.store_key, "addface", person, (), keys), now=time.time() - 1
    )  # due now
    intent = {"name": "Fay", "tag": "kept", "v3_name": "Fay", **keys}
    opened = await services.store.journal_open(
        JournalIntent("write", scope.store_key, "newperson", person, (), intent),
        now=time.time(),
        lease=Lease(OWNER, 30),
    )
    delay_s = 1.5
    await services.store.journal_complete(  # as `journaled` leaves a write that timed out: due after a delay
        opened.entry.entry_id, "unknown", now=time.time(), error="timeout", retry_at=time.time() + delay_s, owner=OWNER
    )
    with pytest.raises(V1Error) as missing:  # a request touching the person settles nothing yet
        await world.run(GETINFO, GetInfo(person))
    assert missing.value.code == -1303
    assert await sweep_once(services) == 0  # nor does the sweeper
    assert await open_entries(world, person) == ["addface:pending", "newperson:unknown"]
    await services.v3.call(  # v3 applies the CreatePerson the proxy gave up on
        v3api.CREATE_PERSON,
        {"GroupId": scope.v3_id(group), "PersonId": v3_person, "PersonName": "Fay", "Image": _b64(photo(8, 1).data)},
    )
    await asyncio.sleep(delay_s)
    assert await sweep_once(services) == 1
    record = await services.store.get_person(scope.store_key, person)
    assert record is not None and (record.name, record.tag) == ("Fay", "kept")
    assert len(await services.store.get_person_faces(scope.store_key, person)) == 1
    entries = await services.store.journal_for_subject(scope.store_key, person, open_only=False)
    assert [(e.op, e.state) for e in entries] == [("addface", "applied"), ("newperson", "applied")]


def _b64(data: bytes | memoryview | None) -> str:
    import base64

    assert data is not None
    return base64.b64encode(bytes(data)).decode("ascii")
