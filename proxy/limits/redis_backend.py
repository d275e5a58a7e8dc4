"""The fleet's shared limits in Redis: the replay guard (SET NX with expiry) and the quota's slot book (Lua GCRA).

One client per process (redis-py asyncio, lazily connected). Short timeouts: a Redis that does not
answer costs a request at most `timeout_s`, and after a failure Redis is left alone for
`cooldown_s` (the breaker) so a down Redis does not slow every request. Then the replay guard
fails closed (ReplayStoreUnavailable) and the quota falls back to this process's own slot book.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from proxy.limits.quota import Booking, GroupRate, LocalSlotBook
from proxy.limits.replay import ReplayStoreUnavailable, signature_digest

log = structlog.get_logger("proxy.limits")

# KEYS[1]: the group's TAT key. ARGV: period_us, tolerance_us, max_wait_us. Time is Redis's own
# clock (TIME), so replicas with skewed clocks still share one schedule. Returns {admitted, wait_us}.
GCRA_BOOK = """
local period = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, wait} end
local new_tat = tat + period
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)
return {1, wait}
"""

_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True)
class RedisConfig:
    """Where the shared limits live; the password never in the URL's repr."""

    url: str
    password: str | None = field(default=None, repr=False)
    key_prefix: str = "v1proxy:"
    timeout_s: float = 0.5
    cooldown_s: float = 1.0


POOL_SIZE = 8  # connections per process: a burst of requests queues for them instead of opening dozens at once


def connect(config: RedisConfig) -> aioredis.Redis:
    """A lazily connecting client (nothing is sent until the first command) on a small blocking pool."""
    pool = aioredis.BlockingConnectionPool.from_url(
        config.url,
        password=config.password,
        max_connections=POOL_SIZE,
        timeout=config.timeout_s,  # waiting for a free connection counts as Redis not answering
        socket_timeout=config.timeout_s,
        socket_connect_timeout=config.timeout_s,
        health_check_interval=30,
    )
    return aioredis.Redis(connection_pool=pool)


async def warm_up(client: aioredis.Redis) -> bool:
    """Open the pool's connections before traffic arrives (best effort: False when Redis does not answer)."""
    try:
        await asyncio.gather(*(client.ping() for _ in range(POOL_SIZE)))
    except _FAILURES:
        return False
    return True


async def ping(client: aioredis.Redis) -> bool:
    """Whether Redis answers a PING now (readiness; within the client's timeouts)."""
    try:
        return bool(await client.ping())
    except _FAILURES:
        return False


class Breaker:
    """After a failure, callers skip Redis for `cooldown_s` (one log line per outage)."""

    def __init__(self, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._open_until = 0.0
        self._down = False

    @property
    def open(self) -> bool:
        return self._clock() < self._open_until

    def failed(self, what: str, exc: BaseException) -> None:
        self._open_until = self._clock() + self._cooldown_s
        if not self._down:
            log.warning("redis.unreachable", during=what, error=type(exc).__name__)
        self._down = True

    def succeeded(self) -> None:
        if self._down:
            log.info("redis.back")
        self._down = False


class RedisReplayGuard:
    """Single-use signatures remembered in Redis by every replica: SET key NX PX <window left>."""

    def __init__(self, client: aioredis.Redis, *, key_prefix: str, breaker: Breaker) -> None:
        self._client = client
        self._prefix = key_prefix + "replay:"
        self._breaker = breaker

    async def remember(self, tenant: str, signature: bytes, *, until: float, now: float) -> bool:
        if self._breaker.open:
            raise ReplayStoreUnavailable("redis was unreachable moments ago")
        key = f"{self._prefix}{tenant}:{signature_digest(signature).hex()}"
        ttl_ms = max(1, int((until - now) * 1000) + 1)
        try:
            stored = await self._client.set(key, b"1", nx=True, px=ttl_ms)
        except _FAILURES as exc:
            self._breaker.failed("replay", exc)
            raise ReplayStoreUnavailable(type(exc).__name__) from None
        self._breaker.succeeded()
        return bool(stored)


class RedisSlotBook:
    """The quota's slot book in Redis (one atomic script per call); this process's book while Redis is down."""

    def __init__(self, client: aioredis.Redis, *, key_prefix: str, breaker: Breaker, fallback: LocalSlotBook) -> None:
        self._script = client.register_script(GCRA_BOOK)
        self._prefix = key_prefix + "quota:"
        self._breaker = breaker
        self._fallback = fallback

    async def book(self, group: str, rate: GroupRate, *, max_wait_s: float) -> Booking:
        if self._breaker.open:
            return self._fallback.book_now(group, rate, max_wait_s=max_wait_s)
        try:
            admitted, wait_us = await self._script(
                keys=[self._prefix + group],
                args=[
                    round(rate.period_s() * 1e6),
                    round(rate.tolerance_s() * 1e6),
                    int(max_wait_s * 1e6),
                ],
            )
        except _FAILURES as exc:
            self._breaker.failed("quota", exc)
            return self._fallback.book_now(group, rate, max_wait_s=max_wait_s)
        self._breaker.succeeded()
        return Booking(bool(admitted), int(wait_us) / 1e6)
