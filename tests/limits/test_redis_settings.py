"""redis.password and redis.cooldown_ms through a running proxy, against a Redis server of the test's own."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from proxy.v1.auth import LegacyKey, sign
from tests.test_settings_take_effect import post
from tests.v1.stack import BUCKET, TENANT_A, Running, running

PASSWORD = "the-right-redis-password"


@dataclass(frozen=True)
class PrivateRedis:
    """A redis-server on a unix socket (no port to collide on), with AUTH, no persistence."""

    socket: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), password=PASSWORD, socket_timeout=5)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server)")
    sock = tmp_path / "redis.sock"
    args = [
        server,
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--requirepass",
        PASSWORD,
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        target = PrivateRedis(sock)
        deadline = time.monotonic() + 10
        while True:
            try:
                if target.client().ping():
                    break
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield target
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def single_use() -> str:
    """A fresh single-use (e=0) v1 signature: the replay guard must remember it, in Redis."""
    appid, secret_id, secret_key = TENANT_A
    plain = f"a={appid}&b={BUCKET}&k={secret_id}&e=0&t={int(time.time())}&r={secrets.randbelow(10**9)}&f="
    return sign(LegacyKey(appid=appid, secret_id=secret_id, secret_key=secret_key), plain)


async def getinfo(run: Running, auth: str | None = None) -> int:
    reply = await post(run, "getinfo", {"person_id": "nobody"}, auth=auth)
    code: int = reply["code"]
    return code


# ---- redis.password -------------------------------------------------------------------------------


async def test_redis_password_right_is_served_wrong_fails_closed_with_108(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    prefix = "v1proxy-settings:"
    async with running(
        tmp_path / "right", redis={"url": private_redis.url, "password": PASSWORD, "key_prefix": prefix}
    ) as run:
        assert await getinfo(run, single_use()) == -1303
    remembered = private_redis.client().keys(f"{prefix}replay:*")
    assert len(remembered) == 1, remembered  # the signature was remembered in this Redis, authenticated
    async with running(
        tmp_path / "wrong", redis={"url": private_redis.url, "password": "not-it", "key_prefix": prefix}
    ) as run:
        assert await getinfo(run, single_use()) == 108  # the replay guard cannot remember: refused, never let through
        assert await getinfo(run) == -1303  # multi-use signatures need no replay guard
    assert len(private_redis.client().keys(f"{prefix}replay:*")) == 1


# ---- redis.cooldown_ms ----------------------------------------------------------------------------


async def test_redis_cooldown_ms_is_how_long_redis_is_left_alone_after_a_failure(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    """Redis stops answering for 0.4 s: a single-use signature then gets 108; once Redis answers again,
    a proxy with a long cooldown still refuses (it leaves Redis alone), one with none serves at once."""
    for cooldown_ms, after in ((60_000, 108), (0, -1303)):
        section = {"url": private_redis.url, "password": PASSWORD, "timeout_ms": 100, "cooldown_ms": cooldown_ms}
        async with running(tmp_path / str(cooldown_ms), redis=section) as run:
            assert await getinfo(run, single_use()) == -1303
            private_redis.client().client_pause(400, all=True)
            assert await getinfo(run, single_use()) == 108
            await asyncio.sleep(0.6)  # the pause is over: Redis answers again
            assert private_redis.client().ping()
            assert await getinfo(run, single_use()) == after, cooldown_ms
