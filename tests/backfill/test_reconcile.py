"""What a crashed attempt left in v3 is undone or adopted before an item runs again (in-process, real emulator)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from proxy.app import build_runtime
from proxy.backfill.checkpoints import Checkpoint, Item, JournalCheckpoints
from proxy.backfill.enrol import Enroller, Outcome
from proxy.backfill.index import Person
from proxy.backfill.live import LiveOps
from proxy.backfill.manifest import ManifestRow
from proxy.config import load_compiled
from proxy.domain.requests import AddFace, ImageSource, NewPerson, Target
from proxy.handlers.ops import ADDFACE, NEWPERSON
from proxy.limits.backends import open_limits
from proxy.metrics import Metrics
from proxy.store import open_store
from tests.backfill.conftest import APPID, BUCKET, Bench

TARGET = Target(APPID, BUCKET)


def rows(bench: Bench, person: str, subject: int, photos: int) -> tuple[ManifestRow, ...]:
    return tuple(
        ManifestRow(
            line=2 + p, appid=APPID, bucket=BUCKET, person_id=person, group_ids=("staff",), person_name="Ann",
            tag="t", image=str(bench.photos / f"s{subject}_p{p}.jpg"), face_tag=None,
        )
        for p in range(photos)
    )  # fmt: skip


def image(row: ManifestRow) -> ImageSource:
    with open(row.image, "rb") as handle:
        return ImageSource(data=handle.read())


Scenario = Callable[[LiveOps, JournalCheckpoints, Enroller], Awaitable[Any]]


def in_process(bench: Bench, scenario: Scenario) -> Any:
    compiled = load_compiled(str(bench.config()))

    async def go() -> Any:
        session = aiohttp.ClientSession()
        store = await open_store(f"sqlite:///{bench.store}")
        limits = open_limits(None, compiled.quota)
        try:
            runtime = build_runtime(compiled, session=session, store=store, metrics=Metrics(), limits=limits)
            services = runtime.services
            ops = LiveOps(dataclasses.replace(services))
            checkpoints = JournalCheckpoints(store)
            enroller = Enroller(ops=ops, checkpoints=checkpoints, image_path=Path, stopping=lambda: False)
            return await scenario(ops, checkpoints, enroller)
        finally:
            await session.close()
            await store.close()
            await limits.close()

    return bench.loop.run(go())


def item(row: ManifestRow, op: str) -> Item:
    return Item(f"{APPID}/{BUCKET}", op, row.person_id, row.line)


async def enrol(enroller: Enroller, person: tuple[ManifestRow, ...]) -> list[Outcome]:
    seen: list[Outcome] = []
    assert await enroller.person(Person(person), seen.append)
    return seen


def test_a_person_created_before_the_crash_is_created_again_not_twice(bench: Bench) -> None:
    person = rows(bench, "c1", 0, 2)

    async def scenario(ops: LiveOps, checkpoints: JournalCheckpoints, enroller: Enroller) -> Any:
        first = person[0]
        await checkpoints.put(Checkpoint(first.item_key, "pending"), item(first, "newperson"))
        crashed = await ops.run(NEWPERSON, TARGET, NewPerson("c1", ("staff",), image(first), "Ann", "t"))
        outcomes = await enrol(enroller, person)
        return crashed.face_id, outcomes

    crashed_face, outcomes = in_process(bench, scenario)
    assert [(o.op, o.status) for o in outcomes] == [("newperson", "enrolled"), ("addface", "added")]
    assert outcomes[0].face_id != crashed_face  # deleted and created again by newperson itself
    assert list(bench.v3_faces().values()) == [2]


def test_a_face_added_and_recorded_before_the_crash_is_adopted(bench: Bench) -> None:
    person = rows(bench, "c2", 1, 3)

    async def scenario(ops: LiveOps, checkpoints: JournalCheckpoints, enroller: Enroller) -> Any:
        assert [o.status for o in await enrol(enroller, person[:2])] == ["enrolled", "added"]
        third = person[2]
        await checkpoints.put(Checkpoint(third.item_key, "pending"), item(third, "addface"))
        crashed = await ops.run(ADDFACE, TARGET, AddFace("c2", (image(third),), "t"))
        return crashed.face_ids[0], await enrol(enroller, person)

    crashed_face, outcomes = in_process(bench, scenario)
    assert [o.status for o in outcomes] == ["skipped", "skipped", "added"]
    assert (outcomes[2].face_id, outcomes[2].message) == (crashed_face, "completed by an earlier run")
    assert list(bench.v3_faces().values()) == [3]


def test_a_face_added_but_not_recorded_is_deleted_and_added_again(bench: Bench) -> None:
    person = rows(bench, "c3", 2, 2)

    async def scenario(ops: LiveOps, checkpoints: JournalCheckpoints, enroller: Enroller) -> Any:
        await enrol(enroller, person[:1])
        second = person[1]
        await checkpoints.put(Checkpoint(second.item_key, "pending"), item(second, "addface"))
        crashed = await ops.run(ADDFACE, TARGET, AddFace("c3", (image(second),), "t"))
        await ops.services.store.delete_faces(f"{APPID}/{BUCKET}", crashed.face_ids)  # killed before the store write
        return crashed.face_ids[0], await enrol(enroller, person)

    crashed_face, outcomes = in_process(bench, scenario)
    assert [o.status for o in outcomes] == ["skipped", "added"]
    assert outcomes[1].face_id != crashed_face
    assert list(bench.v3_faces().values()) == [2]


def test_a_person_that_existed_before_the_backfill_is_never_deleted(bench: Bench) -> None:
    person = rows(bench, "c4", 3, 1)

    async def scenario(ops: LiveOps, checkpoints: JournalCheckpoints, enroller: Enroller) -> Any:
        live = await ops.run(NEWPERSON, TARGET, NewPerson("c4", ("staff",), image(person[0]), "Live", None))
        refused = await enrol(enroller, person)
        retrying = dataclasses.replace(enroller, retry_failed=True)
        return live.face_id, refused, await enrol(retrying, person)

    live_face, refused, retried = in_process(bench, scenario)
    assert [(o.status, o.code) for o in refused] == [("failed", -1302)]
    assert [(o.status, o.code) for o in retried] == [("failed", -1302)]
    assert list(bench.v3_faces().values()) == [1]
    assert live_face
