"""Liveness and readiness checks of a proxy app: config loaded, store usable, v3 credentials, upstream, Redis.

A check that is not `required` does not make the process unready when it fails: it is reported as
degraded. Redis is such a check: while it is unreachable the proxy still serves (single-use
signatures are refused with 108, the quota is paced by each process alone), and since every replica
shares one Redis, taking them all out of service would turn a degraded fleet into an outage.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from proxy.app import MIGRATION, RUNTIME
from proxy.translate.v3api import GET_GROUP_LIST
from proxy.v3.errors import V3Error


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    required: bool = True  # False: a failure degrades the service but leaves the process ready


REDIS_DOWN = "unreachable: single-use signatures refused with 108, upstream quota paced by this process alone"


def is_ready(checks: list[Check]) -> bool:
    return all(c.ok for c in checks if c.required)


def degraded(checks: list[Check]) -> list[str]:
    """The failing checks that do not make the process unready."""
    return [c.name for c in checks if not c.ok and not c.required]


@dataclass
class UpstreamProbe:
    """A cheap v3 call (GetGroupList, one row), its result cached for `every_s` seconds."""

    every_s: float
    clock: Callable[[], float] = time.monotonic
    _last: tuple[float, Check] | None = field(default=None, init=False)

    async def check(self, app: web.Application) -> Check | None:
        if self.every_s <= 0:
            return None
        now = self.clock()
        if self._last is not None and now - self._last[0] < self.every_s:
            return self._last[1]
        try:
            await app[RUNTIME].current.services.v3.call(GET_GROUP_LIST, {"Offset": 0, "Limit": 1})
            result = Check("upstream", True)
        except V3Error as exc:
            result = Check("upstream", False, exc.code)
        self._last = (now, result)
        return result


async def readiness(
    app: web.Application, *, draining: bool, upstream: Callable[[web.Application], Awaitable[Check | None]]
) -> list[Check]:
    """Every readiness check; ready when all are ok."""
    if draining:
        return [Check("draining", False, "shutting down")]
    holder = app.get(RUNTIME)
    if holder is None or not holder.loaded:
        return [Check("config", False, "not loaded")]
    runtime = holder.current
    checks = [Check("config", True, f"{len(runtime.settings.tenants)} tenant(s)")]
    try:
        store_ok = await runtime.services.store.ping()
    except Exception as exc:  # any failure of the store means not ready
        store_ok, detail = False, type(exc).__name__
    else:
        detail = "" if store_ok else "ping failed"
    checks.append(Check("store", store_ok, detail))
    cred = runtime.compiled.credential
    checks.append(Check("v3_credentials", bool(cred.secret_id and cred.secret_key)))
    redis_ping = runtime.limits.ping
    if redis_ping is not None:  # limits shared in Redis
        redis_ok = await redis_ping()
        checks.append(Check("redis", redis_ok, "" if redis_ok else REDIS_DOWN, required=False))
    engine = app.get(MIGRATION)
    legacy = await engine.legacy_ready() if engine is not None else None
    if legacy is not None:  # the v1 side of a staged migration
        checks.append(Check("legacy_v1", legacy[0], legacy[1]))
    probe = await upstream(app)
    if probe is not None:
        checks.append(probe)
    return checks
