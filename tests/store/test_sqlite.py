"""SQLite FaceStore: round trips of awkward text, cascades, namespaces, migrations, concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.domain.faces import FaceAttributes
from proxy.store import FaceStore, StoreError, open_store, sqlite_path
from proxy.store.base import FaceRecord, PersonRecord
from proxy.store.sqlite import SCHEMA_VERSION, SqliteFaceStore

AWKWARD = [
    "plain",
    "张三",
    "emoji 😀🧑‍🤝‍🧑",
    "quotes ' \" ` ; DROP TABLE face; --",
    "nul\x00inside",
    "t1.a%40b#c@d",
    "back\\slash/and/slash",
    "tab\tnewline\n",
    " leading and trailing ",
    "x" * 300,
    "",
    "\u2028\ufeff\U0010ffff",
]


def face(namespace: str, face_id: str, person_id: str, tag: str | None = "t", **changes: object) -> FaceRecord:
    """A face record with every attribute set (``changes`` override attributes)."""
    attributes = FaceAttributes(
        x=10, y=-3, width=120.5, height=99.25, gender=1, age=37, expression=40, glass=True, pitch=-12, yaw=7, roll=0
    )
    attributes = dataclasses.replace(attributes, **changes)  # type: ignore[arg-type]
    return FaceRecord(namespace=namespace, face_id=face_id, person_id=person_id, tag=tag, attributes=attributes)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FaceStore]:
    opened = await open_store(f"sqlite://{tmp_path}/nested/dir/meta.db")
    yield opened
    await opened.close()


async def test_file_created_in_missing_directory_with_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "meta.db"
    store = await open_store(f"sqlite://{path}")
    try:
        assert path.exists()
        assert await store.ping()
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not await store.ping()


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


async def test_delete_person_is_one_transaction(store: FaceStore) -> None:
    assert isinstance(store, SqliteFaceStore)
    await store.put_person(PersonRecord("ns", "p", "n", None))
    await store.put_faces([face("ns", "f", "p")])
    # Make the second statement (DELETE FROM person) fail: the face delete must roll back too.
    other = sqlite3.connect(store.path)  # a trigger set from outside, as another process could
    other.execute("CREATE TRIGGER refuse BEFORE DELETE ON person BEGIN SELECT RAISE(ABORT, 'refused'); END")
    other.close()
    with pytest.raises(sqlite3.IntegrityError):
        await store.delete_person("ns", "p")
    assert await store.get_face("ns", "f") is not None
    assert await store.get_person("ns", "p") is not None
    assert await store.ping()  # the connection is usable after the rollback


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


async def test_reopen_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/meta.db"
    first = await open_store(url)
    await first.put_person(PersonRecord("ns", "p", "名前", "🏷"))
    await first.put_faces([face("ns", "f", "p")])
    await first.close()
    second = await open_store(url)
    try:
        assert await second.get_person("ns", "p") == PersonRecord("ns", "p", "名前", "🏷")
        assert await second.get_face("ns", "f") == face("ns", "f", "p")
    finally:
        await second.close()


async def test_migrates_an_existing_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    store = await open_store(f"sqlite://{path}")
    try:
        await store.put_person(PersonRecord("ns", "p", None, None))
        assert await store.get_person("ns", "p") == PersonRecord("ns", "p", None, None)
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"person", "face"} <= tables


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this v1proxy"):
        await open_store(f"sqlite://{path}")


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


async def test_memory_store() -> None:
    store = await open_store("sqlite://:memory:")
    try:
        await store.put_faces([face("ns", "f", "p")])
        assert await store.get_face("ns", "f") == face("ns", "f", "p")
        assert await store.ping()
    finally:
        await store.close()


def test_sqlite_urls() -> None:
    assert sqlite_path("sqlite:///var/lib/v1proxy/meta.db") == "/var/lib/v1proxy/meta.db"
    assert sqlite_path("sqlite:////abs/meta.db") == "/abs/meta.db"
    assert sqlite_path("sqlite://data/meta.db") == "data/meta.db"
    assert sqlite_path("sqlite://:memory:") == ":memory:"
    with pytest.raises(ValueError, match="names no file"):
        sqlite_path("sqlite://")


@pytest.mark.parametrize("url", ["postgresql://db/x", "mysql://x", "/just/a/path.db", ""])
def test_unknown_scheme_names_supported(url: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///.*sqlite://:memory:.*postgresql"):
        open_store(url)


async def test_reads_see_each_commit_and_never_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    store = await open_store(f"sqlite://{path}")
    other = sqlite3.connect(path, isolation_level=None)  # another worker process, say
    try:
        await store.put_person(PersonRecord("ns", "p", "before", None))
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE person SET name = 'after' WHERE person_id = 'p'")
        # the write lock is held: a read answers at once with the last committed state
        person = await asyncio.wait_for(store.get_person("ns", "p"), timeout=0.5)
        assert person is not None and person.name == "before"
        other.execute("COMMIT")
        person = await store.get_person("ns", "p")
        assert person is not None and person.name == "after"
        await store.update_person("ns", "p", tag="mine")  # our own writes are read back at once too
        assert await store.get_person("ns", "p") == PersonRecord("ns", "p", "after", "mine")
    finally:
        other.close()
        await store.close()


def test_workers_opening_one_new_file_together_all_succeed(tmp_path: Path) -> None:
    """`serve --workers N` on a fresh file: every process switches it to WAL and migrates, none fails."""
    import multiprocessing

    path = tmp_path / "fresh.db"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6) as pool:
        results = pool.map(_open_and_close, [str(path)] * 6)
    assert results == [SCHEMA_VERSION] * 6


def _open_and_close(path: str) -> int:
    async def run() -> int:
        store = await open_store(f"sqlite://{path}")
        await store.close()
        return int(sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0])

    return asyncio.run(run())
