"""store.password, store.connect_timeout_s and store.command_timeout_s, each changing what a starting or
running proxy does against a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg

from proxy.app import create_app, legacy_runner
from proxy.settings import parse_settings
from proxy.store import StoreError
from tests.store.private_pg import PASSWORD, PrivatePostgres
from tests.test_settings_take_effect import b64, post
from tests.v1.stack import running, settings_data
from tests.v3.test_upstream_settings import blackhole


async def start_failure(tmp_path: Path, store: dict[str, Any]) -> tuple[str, float]:
    """Start a proxy with this store section; the StoreError that stops it, and how long starting took."""
    settings = parse_settings(settings_data("http://127.0.0.1:9", tmp_path / "unused.db", store=store))
    runner = legacy_runner(create_app(settings))
    started = time.monotonic()
    try:
        await runner.setup()
    except StoreError as exc:
        return str(exc), time.monotonic() - started
    finally:
        await runner.cleanup()
    raise AssertionError("the proxy started")


# ---- store.password -------------------------------------------------------------------------------


async def test_store_password_opens_a_server_that_asks_for_one(
    tmp_path: Path, private_postgres_with_password: PrivatePostgres
) -> None:
    url = private_postgres_with_password.url
    async with running(tmp_path / "right", store={"url": url, "password": PASSWORD}) as run:
        person = {"person_id": "ann", "group_ids": ["staff"], "image": b64(0, 0)}
        assert (await post(run, "newperson", person))["code"] == 0
    conn = await asyncpg.connect(url, password=PASSWORD)
    try:
        assert await conn.fetchval("SELECT count(*) FROM person") == 1  # the proxy's store is this server
    finally:
        await conn.close()
    for store in ({"url": url, "password": "not-it"}, {"url": url}):
        message, _ = await start_failure(tmp_path, store)
        assert "InvalidPasswordError" in message and "not-it" not in message, message


# ---- store.connect_timeout_s ----------------------------------------------------------------------


async def test_store_connect_timeout_s_bounds_a_handshake_that_never_completes(tmp_path: Path) -> None:
    with blackhole() as origin:
        url = origin.replace("http://", "postgresql://postgres@") + "/test"
        took = {}
        for timeout_s in (0.3, 1.5):
            message, took[timeout_s] = await start_failure(tmp_path, {"url": url, "connect_timeout_s": timeout_s})
            assert "TimeoutError" in message, message
    assert took[0.3] < 1.2, took  # given up at its 0.3 s (loose: a shared machine)
    assert took[1.5] >= 1.5, took


# ---- store.command_timeout_s ----------------------------------------------------------------------


async def test_store_command_timeout_s_bounds_a_statement_the_server_holds(tmp_path: Path, postgres_url: str) -> None:
    """Another session holds the journal table locked: with a 0.3 s command timeout the write is cut while
    the lock is still held (213, never a hang); with 10 s it waits, and lands once the lock is gone."""
    person = {"group_ids": ["staff"], "image": b64(0, 0)}
    for command_timeout_s in (0.3, 10.0):
        store = {"url": postgres_url, "command_timeout_s": command_timeout_s}
        async with running(tmp_path / str(command_timeout_s), store=store) as run:
            locker = await asyncpg.connect(postgres_url)
            try:
                async with locker.transaction():
                    await locker.execute("LOCK TABLE journal IN ACCESS EXCLUSIVE MODE")
                    newperson = post(run, "newperson", {"person_id": f"p{command_timeout_s}", **person})
                    answer = asyncio.create_task(newperson)
                    if command_timeout_s < 1:
                        reply = await asyncio.wait_for(answer, timeout=10)  # answered with the lock still held
                        assert reply["code"] == 213, reply
                        continue
                    await asyncio.sleep(1.0)
                    assert not answer.done()  # still waiting for the lock
                assert (await answer)["code"] == 0
            finally:
                await locker.close()
