"""Liveness and readiness checks of a proxy app: config loaded, store usable, v3 credentials, upstream."""

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
    engine = app.get(MIGRATION)
    legacy = await engine.legacy_ready() if engine is not None else None
    if legacy is not None:  # the v1 side of a staged migration
        checks.append(Check("legacy_v1", legacy[0], legacy[1]))
    probe = await upstream(app)
    if probe is not None:
        checks.append(probe)
    return checks
