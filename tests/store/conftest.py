"""One store suite for every backend: the `backend` fixture is SQLite (a temp file) or PostgreSQL (a private schema)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from proxy.store import FaceStore, open_store, sqlite_path
from tests.fixtures_pg import create_schema, drop_schema, with_schema
from tests.store.private_pg import private_postgres, private_postgres_with_password  # noqa: F401 (fixtures)


@dataclass(frozen=True)
class Backend:
    """A store URL and a way to run SQL on the same database from outside the store (as another process could)."""

    kind: str
    url: str

    async def execute(self, *statements: str) -> None:
        if self.kind == "sqlite":
            conn = sqlite3.connect(sqlite_path(self.url), isolation_level=None)
            try:
                for statement in statements:
                    conn.execute(statement)
            finally:
                conn.close()
            return
        pg = await asyncpg.connect(self.url)
        try:
            for statement in statements:
                await pg.execute(statement)
        finally:
            await pg.close()

    async def fetchval(self, sql: str) -> object:
        if self.kind == "sqlite":
            conn = sqlite3.connect(sqlite_path(self.url))
            try:
                row = conn.execute(sql).fetchone()
            finally:
                conn.close()
            return None if row is None else row[0]
        pg = await asyncpg.connect(self.url)
        try:
            return await pg.fetchval(sql)
        finally:
            await pg.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite://{tmp_path}/meta.db")
    else:
        server = request.getfixturevalue("postgres_server")
        schema = await create_schema(server)
        try:
            yield Backend("postgresql", with_schema(server, schema))
        finally:
            await drop_schema(server, schema)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[FaceStore]:
    opened = await open_store(backend.url)
    yield opened
    await opened.close()
