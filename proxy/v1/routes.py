"""The v1 HTTP surface: ``POST /face/{op}`` and the middleware that renders every failure as v1 JSON.

Inside the route: reject an unknown op (before reading the body) -> read the form -> build the
target (appid/bucket) -> authenticate -> build the typed request -> call the op's handler ->
render. The typed request is built *after* authentication so that an unsigned caller learns
nothing about field validation beyond "appid missing".
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.domain.requests import Target, V1Call, V1Request
from proxy.v1.errors import V1Error
from proxy.v1.form import V1Form, read_form
from proxy.v1.render import render_error, render_result
from proxy.v1.requests import build_target, unknown_op
from proxy.v1.results import V1Result

# Per-request state, for the access log and other middlewares. An outer middleware may set
# REQUEST_ID first (e.g. from X-Request-Id); otherwise error_middleware sets a fresh one.
REQUEST_ID: web.RequestKey[str] = web.RequestKey("v1_request_id", str)
V1_CALL: web.RequestKey[V1Call] = web.RequestKey("v1_call", V1Call)
V1_CODE: web.RequestKey[int] = web.RequestKey("v1_code", int)

log = structlog.get_logger("proxy.v1")


class Parser(Protocol):
    """What the route needs of an op record (proxy.handlers.ops.Op): the parser of its body."""

    @property
    def parse(self) -> Callable[[V1Form], V1Request]: ...


P = TypeVar("P", bound=Parser)


def new_request_id() -> str:
    """A fresh request id: 32 hex digits (an id, not a secret: no system call for it)."""
    return f"{random.getrandbits(128):032x}"


class Authenticator(Protocol):
    """Checks the Authorization header for a target; raises V1Error (4-14) when refused."""

    def __call__(self, authorization: str | None, target: Target) -> None: ...


# HTTP errors raised by the router or aiohttp itself -> the v1 error that answers them.
HTTP_ERRORS: Mapping[int, tuple[int, str]] = {
    404: (3, "bad request: unknown path (v1 serves POST /face/<op>)"),
    405: (3, "bad request: method not allowed (v1 serves POST /face/<op>)"),
    413: (23, "request body too large"),
}


def v1_routes(
    *,
    ops: Mapping[str, P],
    serve: Callable[[P, V1Call], Awaitable[V1Result]],
    authenticate: Callable[[], Authenticator],
    max_body_bytes: Callable[[], int],
    max_fields: Callable[[], int],
) -> list[web.RouteDef]:
    """The v1 routes: `ops` by name, `serve` runs one parsed call of one of them.

    ``authenticate``, ``max_body_bytes`` and ``max_fields`` are called per request (config reloads).
    """
    table = dict(ops)

    async def face_op(request: web.Request) -> web.StreamResponse:
        op_name = request.match_info["op"]
        op = table.get(op_name)
        if op is None:
            raise unknown_op(op_name)
        form = await read_form(request, max_body_bytes=max_body_bytes(), max_fields=max_fields())
        target = build_target(form)
        authenticate()(request.headers.get("Authorization"), target)
        call = V1Call(op=op_name, target=target, request=op.parse(form))
        request[V1_CALL] = call
        result = await serve(op, call)
        request[V1_CODE] = 0
        return render_result(result)

    return [web.post("/face/{op}", face_op)]


def _request_id(request: web.Request) -> str:
    request_id = request.get(REQUEST_ID)
    if request_id is None:
        request_id = new_request_id()
        request[REQUEST_ID] = request_id
    return request_id


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render V1Error as v1 JSON; anything unexpected as 213 (logged, never a traceback in the body)."""
    request_id = _request_id(request)
    try:
        return await handler(request)
    except V1Error as error:
        request[V1_CODE] = error.code
        return render_error(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = HTTP_ERRORS.get(exc.status, (3, f"bad request ({exc.status} {exc.reason})"))
        request[V1_CODE] = code
        response = render_error(V1Error(code, message))
        response.set_status(exc.status)  # keep the status aiohttp chose (404, 405, 413, ...)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("v1.internal_error", request_id=request_id, method=request.method, path=request.path)
        request[V1_CODE] = 213
        return render_error(V1Error(213, f"internal error (request {request_id})"), session_id=request_id)
