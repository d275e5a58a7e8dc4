"""The replay guard: in-process table with a capacity per tenant, and the Redis one shared by processes."""

from __future__ import annotations

import hashlib
import socket

import pytest

from proxy.limits.redis_backend import Breaker, RedisConfig, RedisReplayGuard, connect
from proxy.limits.replay import LocalReplayGuard, ReplayGuardFull, ReplayStoreUnavailable
from tests.fixtures_redis import RedisTarget

NOW = 1_700_000_000.0


async def test_local_guard_refuses_a_replay_and_forgets_after_the_window() -> None:
    guard = LocalReplayGuard()
    assert await guard.remember("app", b"sig", until=NOW + 10, now=NOW)
    assert not await guard.remember("app", b"sig", until=NOW + 10, now=NOW + 5)
    assert await guard.remember("app", b"sig", until=NOW + 30, now=NOW + 11)  # its window closed


async def test_local_capacity_is_per_tenant() -> None:
    guard = LocalReplayGuard(capacity_per_tenant=2)
    assert await guard.remember("noisy", b"a", until=NOW + 10, now=NOW)
    assert await guard.remember("noisy", b"b", until=NOW + 10, now=NOW)
    with pytest.raises(ReplayGuardFull):
        await guard.remember("noisy", b"c", until=NOW + 10, now=NOW)
    # another tenant's single-use signatures are unaffected by the noisy one
    assert await guard.remember("quiet", b"c", until=NOW + 10, now=NOW)
    assert await guard.remember("quiet", b"d", until=NOW + 10, now=NOW)
    # expired entries are swept when the table is full
    assert await guard.remember("noisy", b"c", until=NOW + 30, now=NOW + 11)
    assert len(guard) == 3


def test_local_guard_stores_digests_not_signatures() -> None:
    guard = LocalReplayGuard()
    guard.remember_now("app", b"secret-signature", until=NOW + 1, now=NOW)
    table = guard._until["app"]
    assert b"secret-signature" not in table
    assert hashlib.sha256(b"secret-signature").digest() in table


def shared_guard(target: RedisTarget) -> RedisReplayGuard:
    """One process's view of the shared guard: its own client, its own breaker."""
    config = RedisConfig(url=target.url, password=target.password, key_prefix=target.key_prefix)
    return RedisReplayGuard(connect(config), key_prefix=target.key_prefix, breaker=Breaker(1.0))


async def test_redis_guard_is_shared_between_processes(redis_target: RedisTarget) -> None:
    import time

    now = time.time()
    first, second = shared_guard(redis_target), shared_guard(redis_target)
    assert await first.remember("app", b"sig", until=now + 30, now=now)
    assert not await second.remember("app", b"sig", until=now + 30, now=now)  # the other replica saw it
    assert not await first.remember("app", b"sig", until=now + 30, now=now)
    assert await second.remember("app", b"other", until=now + 30, now=now)
    # one key per signature: the digest, never the signature; it expires with the window
    client = redis_target.client()
    try:
        keys = sorted(client.scan_iter(match=redis_target.key_prefix + "*"))
        digest = hashlib.sha256(b"sig").hexdigest()
        assert f"{redis_target.key_prefix}replay:app:{digest}".encode() in keys
        assert len(keys) == 2
        ttl_ms = client.pttl(f"{redis_target.key_prefix}replay:app:{digest}")
        assert 25_000 < ttl_ms <= 30_001
    finally:
        client.close()


async def test_redis_guard_expiry_reopens_the_signature(redis_target: RedisTarget) -> None:
    import asyncio
    import time

    guard = shared_guard(redis_target)
    now = time.time()
    assert await guard.remember("app", b"short", until=now + 0.2, now=now)
    assert not await guard.remember("app", b"short", until=now + 0.2, now=now)
    await asyncio.sleep(0.4)
    assert await guard.remember("app", b"short", until=time.time() + 1, now=time.time())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once closed


async def test_redis_guard_fails_closed_when_redis_is_unreachable() -> None:
    config = RedisConfig(url=f"redis://127.0.0.1:{closed_port()}/0", timeout_s=0.5)
    breaker = Breaker(cooldown_s=60.0)
    guard = RedisReplayGuard(connect(config), key_prefix="x:", breaker=breaker)
    with pytest.raises(ReplayStoreUnavailable):
        await guard.remember("app", b"sig", until=NOW + 10, now=NOW)
    assert breaker.open  # the next ones are refused at once, without waiting for Redis again
    with pytest.raises(ReplayStoreUnavailable):
        await guard.remember("app", b"sig2", until=NOW + 10, now=NOW)
