"""SQLite only: the file, WAL, migrating an empty file, :memory:, URLs, readers never waiting, racing openers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from proxy.store import StoreError, open_store, sqlite_path
from proxy.store.base import PersonRecord
from proxy.store.schema import SCHEMA_VERSION
from tests.store.records import face


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


@pytest.mark.parametrize("url", ["mysql://x", "/just/a/path.db", "", "postgresql:/one-slash"])
async def test_unknown_scheme_names_supported(url: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite:///.*sqlite://:memory:.*postgresql://USER@HOST"):
        await open_store(url)


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
    # spawn, not fork: pytest's process has other threads alive (a forked child can inherit a lock one of them
    # held and deadlock); each child starts a fresh interpreter, as every `serve --workers` process opens the file
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        results = pool.map(_open_and_close, [str(path)] * 6)
    assert results == [SCHEMA_VERSION] * 6


def _open_and_close(path: str) -> int:
    async def run() -> int:
        store = await open_store(f"sqlite://{path}")
        await store.close()
        return int(sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0])

    return asyncio.run(run())
