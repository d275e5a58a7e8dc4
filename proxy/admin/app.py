"""The admin listener's app: /healthz, /readyz, /metrics and POST /reload, for one proxy app."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import asdict

from aiohttp import web

from proxy.admin.health import UpstreamProbe, degraded, is_ready, readiness
from proxy.app import METRICS, SETTINGS
from proxy.lifecycle import ReloadOutcome

CONTENT_TYPE_LATEST = "text/plain; version=0.0.4; charset=utf-8"


class AdminState:
    """Mutable process state the admin endpoints report: draining or not."""

    def __init__(self) -> None:
        self.draining = False


ADMIN_STATE = web.AppKey("admin_state", AdminState)


def create_admin_app(
    proxy_app: web.Application, *, reload: Callable[[], ReloadOutcome] | None = None
) -> web.Application:
    """The admin app for `proxy_app`; POST /reload only when a `reload` is given."""
    admin = web.Application()
    state = AdminState()
    admin[ADMIN_STATE] = state
    probe = UpstreamProbe(every_s=proxy_app[SETTINGS].admin.upstream_check_s)

    async def healthz(_: web.Request) -> web.Response:
        # the loop serving this process: listen.event_loop (uvloop | asyncio) made visible
        loop = "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
        return web.json_response({"status": "alive", "pid": os.getpid(), "event_loop": loop})

    async def readyz(_: web.Request) -> web.Response:
        checks = await readiness(proxy_app, draining=state.draining, upstream=probe.check)
        ready = is_ready(checks)
        return web.json_response(
            {"ready": ready, "degraded": degraded(checks), "pid": os.getpid(), "checks": [asdict(c) for c in checks]},
            status=200 if ready else 503,
        )

    async def metrics(_: web.Request) -> web.Response:
        body = proxy_app[METRICS].render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    admin.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)])
    if reload is not None:
        do_reload = reload

        async def reload_handler(_: web.Request) -> web.Response:
            outcome = do_reload()
            return web.json_response(asdict(outcome), status=200 if outcome.applied else 422)

        admin.add_routes([web.post("/reload", reload_handler)])
    return admin
