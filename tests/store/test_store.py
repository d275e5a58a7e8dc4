"""Every FaceStore backend (SQLite, PostgreSQL): round trips of awkward text, cascades, namespaces, migrations."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest

from proxy.store import FaceStore, StoreError, open_store
from proxy.store.base import PersonRecord
from proxy.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.store.conftest import Backend
from tests.store.records import AWKWARD, face


@pytest.mark.parametrize("text", AWKWARD)
async def test_person_round_trip(store: FaceStore, text: str) -> None:
    record = PersonRecord(namespace=f"ns {text}", person_id=text, name=text, tag=text)
    await store.put_person(record)
    assert await store.get_person(f"ns {text}", text) == record
    if text != "nul\x00inside":
        assert await store.get_person(f"ns {text}", "nul") is None


@pytest.mark.parametrize("text", AWKWARD)
async def test_face_round_trip(store: FaceStore, text: str) -> None:
    record = face("ns", text, person_id=text, tag=text, glass=False, width=0.5)
    await store.put_faces([record])
    assert await store.get_face("ns", text) == record
    assert await store.get_faces("ns", [text, "missing"]) == {text: record}


async def test_ids_differing_only_after_nul_are_distinct(store: FaceStore) -> None:
    await store.put_person(PersonRecord("ns", "a\x00b", "first", None))
    await store.put_person(PersonRecord("ns", "a\x00c", "second", None))
    await store.put_person(PersonRecord("ns", "a", "third", None))
    names = [(await store.get_person("ns", pid)) for pid in ("a\x00b", "a\x00c", "a")]
    assert [p.name if p else None for p in names] == ["first", "second", "third"]


async def test_put_person_upserts_and_none_fields(store: FaceStore) -> None:
    await store.put_person(PersonRecord("ns", "p", "name", "tag"))
    await store.put_person(PersonRecord("ns", "p", None, "tag2"))
    assert await store.get_person("ns", "p") == PersonRecord("ns", "p", None, "tag2")


async def test_update_person_changes_only_given_fields(store: FaceStore) -> None:
    await store.update_person("ns", "new", tag="only tag")
    assert await store.get_person("ns", "new") == PersonRecord("ns", "new", None, "only tag")
    await store.put_person(PersonRecord("ns", "p", "name", "tag"))
    await store.update_person("ns", "p", name="名字 😀")
    assert await store.get_person("ns", "p") == PersonRecord("ns", "p", "名字 😀", "tag")
    await store.update_person("ns", "p", tag="")
    assert await store.get_person("ns", "p") == PersonRecord("ns", "p", "名字 😀", "")
    await store.update_person("ns", "p")
    assert await store.get_person("ns", "p") == PersonRecord("ns", "p", "名字 😀", "")


async def test_delete_person_cascades_to_faces_only_theirs(store: FaceStore) -> None:
    await store.put_person(PersonRecord("ns", "p1", "one", None))
    await store.put_person(PersonRecord("ns", "p2", "two", None))
    await store.put_faces([face("ns", "f1", "p1"), face("ns", "f2", "p1"), face("ns", "f3", "p2")])
    await store.put_faces([face("other", "f4", "p1")])
    await store.delete_person("ns", "p1")
    assert await store.get_person("ns", "p1") is None
    assert await store.get_faces("ns", ["f1", "f2", "f3"]) == {"f3": face("ns", "f3", "p2")}
    assert await store.get_person("ns", "p2") is not None
    assert await store.get_face("other", "f4") == face("other", "f4", "p1")
    await store.delete_person("ns", "nobody")  # no error


async def test_namespaces_isolated(store: FaceStore) -> None:
    await store.put_person(PersonRecord("tenant-a", "same", "A", "ta"))
    await store.put_person(PersonRecord("tenant-b", "same", "B", "tb"))
    await store.put_faces([face("tenant-a", "f", "same", tag="A"), face("tenant-b", "f", "same", tag="B")])
    assert (await store.get_person("tenant-a", "same")) == PersonRecord("tenant-a", "same", "A", "ta")
    assert (await store.get_faces("tenant-b", ["f"]))["f"].tag == "B"
    await store.delete_faces("tenant-a", ["f"])
    await store.delete_person("tenant-a", "same")
    assert await store.get_face("tenant-a", "f") is None
    assert await store.get_face("tenant-b", "f") == face("tenant-b", "f", "same", tag="B")
    assert await store.get_person("tenant-b", "same") == PersonRecord("tenant-b", "same", "B", "tb")


async def test_put_faces_replaces_and_batch_reads(store: FaceStore) -> None:
    faces = [face("ns", f"f{i}", "p", tag=f"tag {i}", age=i) for i in range(1200)]
    await store.put_faces(faces)
    await store.put_faces([face("ns", "f5", "p", tag="changed")])
    ids = [f"f{i}" for i in range(1200)] + ["f5", "missing"]
    got = await store.get_faces("ns", ids)
    assert len(got) == 1200
    assert got["f5"].tag == "changed"
    assert got["f1199"] == faces[1199]
    await store.delete_faces("ns", [f"f{i}" for i in range(0, 1200, 2)])
    left = await store.get_faces("ns", ids)
    assert sorted(left) == sorted(f"f{i}" for i in range(1, 1200, 2))
    await store.put_faces([])
    await store.delete_faces("ns", [])
    assert await store.get_faces("ns", []) == {}


async def test_concurrent_writers_keep_everything(store: FaceStore) -> None:
    async def writer(n: int) -> None:
        await store.put_person(PersonRecord("ns", f"p{n}", f"name {n}", None))
        await store.put_faces([face("ns", f"p{n}-f{k}", f"p{n}") for k in range(5)])
        await store.update_person("ns", f"p{n}", tag=f"tag {n}")

    await asyncio.gather(*(writer(n) for n in range(60)))
    all_ids = [f"p{n}-f{k}" for n in range(60) for k in range(5)]
    assert len(await store.get_faces("ns", all_ids)) == 300
    people = await asyncio.gather(*(store.get_person("ns", f"p{n}") for n in range(60)))
    assert all(p == PersonRecord("ns", f"p{n}", f"name {n}", f"tag {n}") for n, p in enumerate(people))


REFUSE_PERSON_DELETE = {
    "sqlite": ("CREATE TRIGGER refuse BEFORE DELETE ON person BEGIN SELECT RAISE(ABORT, 'refused'); END",),
    "postgresql": (
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
        "CREATE TRIGGER refuse BEFORE DELETE ON person FOR EACH ROW EXECUTE FUNCTION refuse()",
    ),
}
REFUSAL = {"sqlite": sqlite3.IntegrityError, "postgresql": asyncpg.RaiseError}


async def test_delete_person_is_one_transaction(store: FaceStore, backend: Backend) -> None:
    await store.put_person(PersonRecord("ns", "p", "n", None))
    await store.put_faces([face("ns", "f", "p")])
    # Make the second statement (DELETE FROM person) fail: the face delete must roll back too.
    await backend.execute(*REFUSE_PERSON_DELETE[backend.kind])  # from outside, as another process could
    with pytest.raises(REFUSAL[backend.kind], match="refused"):
        await store.delete_person("ns", "p")
    assert await store.get_face("ns", "f") is not None
    assert await store.get_person("ns", "p") is not None
    assert await store.ping()  # the connection is usable after the rollback


async def test_reopen_keeps_data(backend: Backend) -> None:
    first = await open_store(backend.url)
    await first.put_person(PersonRecord("ns", "p", "名前", "🏷"))
    await first.put_faces([face("ns", "f", "p")])
    await first.close()
    assert not await first.ping()
    second = await open_store(backend.url)
    try:
        assert await second.get_person("ns", "p") == PersonRecord("ns", "p", "名前", "🏷")
        assert await second.get_face("ns", "f") == face("ns", "f", "p")
    finally:
        await second.close()


VERSION_OF = {"sqlite": "PRAGMA user_version", "postgresql": "SELECT version FROM v1proxy_schema"}
SET_VERSION = {"sqlite": "PRAGMA user_version = {v}", "postgresql": "UPDATE v1proxy_schema SET version = {v}"}


async def test_a_store_at_version_1_is_migrated_keeping_its_data(backend: Backend) -> None:
    """A store made by the previous release (persons and faces only) gains the journal and keeps its rows."""
    first_step = getattr(MIGRATIONS[0], backend.kind)
    if backend.kind == "sqlite":
        await backend.execute(
            *first_step, "INSERT INTO person VALUES ('ns', 'old', 'kept', NULL)", "PRAGMA user_version = 1"
        )
    else:
        await backend.execute(
            *first_step,
            "INSERT INTO person VALUES ('ns', 'old', 'kept', NULL)",
            "CREATE TABLE v1proxy_schema (version INTEGER NOT NULL)",
            "INSERT INTO v1proxy_schema VALUES (1)",
        )
    store = await open_store(backend.url)
    try:
        assert await store.get_person("ns", "old") == PersonRecord("ns", "old", "kept", None)
        assert (await store.journal_stats("write", now=0.0)).counts["pending"] == 0
    finally:
        await store.close()
    assert await backend.fetchval(VERSION_OF[backend.kind]) == SCHEMA_VERSION


async def test_refuses_a_newer_schema(backend: Backend) -> None:
    store = await open_store(backend.url)
    await store.close()
    await backend.execute(SET_VERSION[backend.kind].format(v=SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer than this v1proxy"):
        await open_store(backend.url)


async def test_stores_opened_together_migrate_once(backend: Backend) -> None:
    """Replicas starting at once on a new database: every one opens, the schema is made once."""
    stores = await asyncio.gather(*(open_store(backend.url) for _ in range(4)))
    for store in stores:
        await store.close()
    assert await backend.fetchval(VERSION_OF[backend.kind]) == SCHEMA_VERSION


async def test_person_faces_lists_one_persons_faces(store: FaceStore) -> None:
    await store.put_faces(
        [face("ns", "f2", "p"), face("ns", "f1", "p"), face("ns", "f3", "q"), face("other", "f4", "p")]
    )
    assert await store.get_person_faces("ns", "p") == [face("ns", "f1", "p"), face("ns", "f2", "p")]
    assert await store.get_person_faces("ns", "nobody") == []
