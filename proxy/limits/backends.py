"""Open the process's limits: in-process, or in Redis shared by the fleet when `redis` is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from proxy.limits.quota import LocalSlotBook, Priority, QuotaPlan, UpstreamQuota
from proxy.limits.redis_backend import (
    Breaker,
    RedisConfig,
    RedisReplayGuard,
    RedisSlotBook,
    connect,
    ping,
    warm_up,
)
from proxy.limits.replay import LocalReplayGuard, ReplayGuard


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Limits:
    """The replay guard and the upstream quota of one process; `close()` at shutdown."""

    replay: ReplayGuard
    quota: UpstreamQuota
    shared: bool  # True: in Redis, shared by every worker and replica
    close: Callable[[], Awaitable[None]] = _nothing
    warm_up: Callable[[], Awaitable[bool]] | None = None  # connect ahead of traffic (shared limits only)
    ping: Callable[[], Awaitable[bool]] | None = None  # Redis answers now (shared limits only; readiness)


def open_limits(
    redis: RedisConfig | None,
    plan: QuotaPlan,
    *,
    share: float = 1.0,
    replay_capacity_per_tenant: int = 100_000,
    priority: Priority = Priority.SERVE,
    patience_s: float = 0.0,
) -> Limits:
    """`share`: this process's part of each budget when it paces itself (no Redis, or Redis down).
    `priority`/`patience_s`: how this process's v3 calls draw (BACKGROUND and patient for a backfill)."""
    local_book = LocalSlotBook(share=share)
    if redis is None:
        return Limits(
            replay=LocalReplayGuard(capacity_per_tenant=replay_capacity_per_tenant),
            quota=UpstreamQuota(local_book, plan, default_priority=priority, patience_s=patience_s),
            shared=False,
        )
    client = connect(redis)
    breaker = Breaker(redis.cooldown_s)

    async def close() -> None:
        await client.aclose()

    return Limits(
        replay=RedisReplayGuard(client, key_prefix=redis.key_prefix, breaker=breaker),
        quota=UpstreamQuota(
            RedisSlotBook(client, key_prefix=redis.key_prefix, breaker=breaker, fallback=local_book),
            plan,
            default_priority=priority,
            patience_s=patience_s,
        ),
        shared=True,
        close=close,
        warm_up=lambda: warm_up(client),
        ping=lambda: ping(client),
    )
