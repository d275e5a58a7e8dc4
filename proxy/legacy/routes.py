"""HTTP routes: ``POST /face/{op}`` runs the v1 pipeline; ``/_legacy/*`` inspects and resets the service.

Pipeline: latency -> op known and served on this host (else 3, HTTP 404) -> body read (21, 23)
-> appid (-1301) -> signature (4-14, `proxy.v1.auth`) -> bucket on the service host (-1301)
-> the op's fields and rules -> reply. Every failure is a v1 JSON body; nothing answers 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.legacy import exceptions as errors
from proxy.legacy.exceptions import V1Error
from proxy.legacy.ops import OPS, OpContext
from proxy.legacy.runtime import MAX_SIGNATURE_VALIDITY_S, SINGLE_USE_WINDOW_S, Exchange, Legacy
from proxy.legacy.wire import Fields, Host, failure, host_of, new_session_id, success
from proxy.v1 import auth
from proxy.v1.form import BODY, read_form

LEGACY = web.AppKey("legacy", Legacy)
MAX_FIELDS = 64
log = logging.getLogger(__name__)


def _not_found(message: str) -> web.Response:
    response = failure(errors.bad_request(message), "")
    response.set_status(404)
    return response


async def face_op(request: web.Request) -> web.StreamResponse:
    response = await _face_op(request)
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        request.app[LEGACY].exchanges.append(
            Exchange(
                path=request.path,
                host=request.headers.get("Host"),
                authorization=request.headers.get("Authorization"),
                content_type=request.headers.get("Content-Type"),
                body=request[BODY] if BODY in request else await request.read(),
                reply=response.body,
                status=response.status,
            )
        )
    return response


async def _face_op(request: web.Request) -> web.StreamResponse:
    legacy = request.app[LEGACY]
    if legacy.latency_s > 0:
        await asyncio.sleep(legacy.latency_s)
    name = request.match_info["op"]
    op = OPS.get(name)
    host = host_of(request)
    if op is None or host not in op.hosts:
        shown = name if len(name) <= 64 else name[:64] + "..."
        return _not_found(f"no interface /face/{shown} on {host.value}")
    session_id = new_session_id()
    try:
        form = await read_form(request, max_body_bytes=legacy.config.max_body_bytes, max_fields=MAX_FIELDS)
        fields = Fields(form)
        appid = fields.required("appid")
        bucket = fields.scalar("bucket") or None
        now = time.time()
        claims = auth.verify(
            request.headers.get("Authorization"),
            appid=appid,
            bucket=bucket,
            keyring=legacy.keyring,
            now=now,
            max_validity_s=MAX_SIGNATURE_VALIDITY_S,
            single_use_window_s=SINGLE_USE_WINDOW_S,
        )
        if claims.single_use:
            await auth.check_single_use(claims, legacy.replay, window_s=SINGLE_USE_WINDOW_S, now=now)
        if host is Host.SERVICE and bucket is None:
            raise errors.param_empty("bucket")
        ctx = OpContext(legacy=legacy, account=legacy.state.account(appid), session_id=session_id)
        return success(await op.handler(ctx, fields))
    except V1Error as error:
        return failure(error, session_id)
    except Exception:
        log.exception("legacy emulator: /face/%s failed", name)
        return failure(V1Error(213, "internal error"), session_id)


@web.middleware
async def http_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405/413 answered as v1 JSON, like every other failure."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = 23 if exc.status == 413 else 3
        response = failure(V1Error(code, f"bad request: {exc.status} {exc.reason}" if code == 3 else None), "")
        response.set_status(exc.status)
        return response


def _json(data: object) -> web.Response:
    return web.Response(body=json.dumps(data).encode("utf-8"), content_type="application/json")


async def health(request: web.Request) -> web.Response:
    return _json(request.app[LEGACY].state.counts())


async def reset(request: web.Request) -> web.Response:
    request.app[LEGACY].reset()
    return _json({"reset": True})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/face/{op}", face_op)
    app.router.add_get("/_legacy/health", health)
    app.router.add_post("/_legacy/reset", reset)
