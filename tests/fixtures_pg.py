"""The PostgreSQL test server policy: which server, skip or fail when it is down, one private schema per test.

V1PROXY_TEST_POSTGRES_URL names the server (default postgresql://postgres@127.0.0.1:5432/test).
When the variable is set, an unreachable server FAILS the tests that need it (CI must not skip
them silently); when it is unset, they skip and say why. Each test gets its own random schema,
reached by the URL's search_path parameter, and drops it at the end: others run at once.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

ENV = "V1PROXY_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get(ENV) or DEFAULT_URL


def with_schema(url: str, schema: str) -> str:
    """The URL with search_path set to `schema` (asyncpg passes unknown query parameters as settings)."""
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


async def _probe(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The server URL once it answers; fail (variable set) or skip (unset) when it does not."""
    url = server_url()
    with ThreadPoolExecutor(1) as thread:  # asyncio.run in a thread: callers may be inside a running loop
        problem = thread.submit(asyncio.run, _probe(url)).result()
    if problem is not None:
        if os.environ.get(ENV):
            pytest.fail(f"{ENV}={url} is set but PostgreSQL is unreachable: {problem}")
        pytest.skip(f"PostgreSQL at {url} (default; set {ENV} to choose) is unreachable: {problem}")
    yield url


async def create_schema(url: str) -> str:
    schema = f"v1p_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return schema


async def drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def postgres_url(postgres_server: str) -> AsyncIterator[str]:
    """A store URL on the test server, in a fresh schema of its own (dropped afterwards)."""
    schema = await create_schema(postgres_server)
    try:
        yield with_schema(postgres_server, schema)
    finally:
        await drop_schema(postgres_server, schema)


@pytest.fixture
def postgres_schema_url(postgres_server: str) -> Iterator[str]:
    """postgres_url for tests that are not coroutines (real processes share it)."""
    with ThreadPoolExecutor(1) as thread:
        schema = thread.submit(asyncio.run, create_schema(postgres_server)).result()
        try:
            yield with_schema(postgres_server, schema)
        finally:
            thread.submit(asyncio.run, drop_schema(postgres_server, schema)).result()
