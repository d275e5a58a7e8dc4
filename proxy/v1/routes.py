"""The v1 HTTP surface: ``POST /face/{op}`` and the middleware that renders every failure as v1 JSON.

Inside the route, everything that can be refused without the body is refused before a byte of it
is read (and before ``100 Continue`` is sent): an unknown op (3), a declared length over the limit
(23), the Authorization header (4, 5, 9-14: appid, key, HMAC and times are all in it). Then the
tenant's in-flight slot (15) and a share of the global body budget (wait briefly, then 15); only
then the body is read (paced: a stalled upload is cut), the target (appid/bucket) built and matched
to the signature (6), the typed request built, the op's handler called, the result rendered.
A client that hangs up mid-body is logged and counted as a hang-up, never as an internal error.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import structlog
from aiohttp import HttpVersion11, web
from aiohttp.typedefs import Handler

from proxy.domain.requests import V1Call, V1Request
from proxy.v1.admission import BodyBudget, TenantSlots
from proxy.v1.auth import SignatureClaims, check_target
from proxy.v1.errors import V1Error
from proxy.v1.form import BODY, UNPACED, BodyPace, BodyTooSlow, ClientGone, V1Form, declared_length, read_form
from proxy.v1.render import render_error, render_result
from proxy.v1.requests import build_target, unknown_op
from proxy.v1.results import V1Result

# Per-request state, for the access log and other middlewares. An outer middleware may set
# REQUEST_ID first (e.g. from X-Request-Id); otherwise error_middleware sets a fresh one.
REQUEST_ID: web.RequestKey[str] = web.RequestKey("v1_request_id", str)
V1_CALL: web.RequestKey[V1Call] = web.RequestKey("v1_call", V1Call)
V1_CODE: web.RequestKey[int] = web.RequestKey("v1_code", int)
# the appid whose signature checked out (known before the body is read)
V1_TENANT: web.RequestKey[str] = web.RequestKey("v1_tenant", str)
# how a request ended without a v1 answer: "client_hangup" or "body_timeout"
V1_CUT: web.RequestKey[str] = web.RequestKey("v1_cut", str)

log = structlog.get_logger("proxy.v1")


class Parser(Protocol):
    """What the route needs of an op record (proxy.handlers.ops.Op): the parser of its body."""

    @property
    def parse(self) -> Callable[[V1Form], V1Request]: ...


P = TypeVar("P", bound=Parser)


def new_request_id() -> str:
    """A fresh request id: 32 hex digits (an id, not a secret: no system call for it)."""
    return f"{random.getrandbits(128):032x}"


@dataclass(frozen=True, slots=True)
class Inbound:
    """The request as the app sent it: what a verbatim passthrough to the legacy backend forwards."""

    path: str
    body: bytes = field(repr=False)
    content_type: str
    authorization: str | None = field(repr=False)
    host: str | None


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A reply to send back exactly as the legacy backend gave it; ``code`` is its v1 code (for logs/metrics)."""

    status: int
    body: bytes = field(repr=False)
    content_type: str
    code: int


class Authenticator(Protocol):
    """Checks the Authorization header alone (no body); the claims, or V1Error (4, 5, 9-14; 15/108 from
    the replay guard a single-use signature goes through)."""

    def __call__(self, authorization: str | None) -> Awaitable[SignatureClaims]: ...


@dataclass(frozen=True, slots=True)
class InboundLimits:
    """Per-request bounds of the v1 surface (read per request: a reload changes them)."""

    max_body_bytes: int
    max_fields: int = 64
    pace: BodyPace = UNPACED
    budget_wait_s: float = 2.0
    max_inflight_per_tenant: int = 1 << 30


# HTTP errors raised by the router or aiohttp itself -> the v1 error that answers them.
HTTP_ERRORS: Mapping[int, tuple[int, str]] = {
    404: (3, "bad request: unknown path (v1 serves POST /face/<op>)"),
    405: (3, "bad request: method not allowed (v1 serves POST /face/<op>)"),
    408: (3, "bad request: the request body did not arrive in time"),
    413: (23, "request body too large"),
    417: (3, "bad request: unsupported Expect header (only 100-continue)"),
}


def v1_routes(
    *,
    ops: Mapping[str, P],
    serve: Callable[[P, V1Call, Inbound], Awaitable[V1Result | Verbatim]],
    authenticate: Callable[[], Authenticator],
    limits: Callable[[], InboundLimits],
    budget: BodyBudget | None = None,
    slots: TenantSlots | None = None,
) -> list[web.RouteDef]:
    """The v1 routes: `ops` by name, `serve` runs one parsed call of one of them (given the request as sent;
    it answers a typed result, or a `Verbatim` reply from the legacy backend).

    ``authenticate`` and ``limits`` are called per request (config reloads).
    """
    table = dict(ops)
    budget = budget or BodyBudget(1 << 62)
    slots = slots or TenantSlots()

    async def face_op(request: web.Request) -> web.StreamResponse:
        op_name = request.match_info["op"]
        op = table.get(op_name)
        if op is None:
            raise unknown_op(op_name)
        bounds = limits()
        length = declared_length(request.headers, bounds.max_body_bytes)
        claims = await authenticate()(request.headers.get("Authorization"))
        request[V1_TENANT] = claims.appid
        # explicit take/release, not context managers: this runs on every request
        slots.take(claims.appid, limit=bounds.max_inflight_per_tenant)
        try:
            held = await budget.acquire(
                bounds.max_body_bytes if length is None else length, wait_s=bounds.budget_wait_s
            )
            try:
                await _continue(request)
                form = await read_form(
                    request, max_body_bytes=bounds.max_body_bytes, max_fields=bounds.max_fields, pace=bounds.pace
                )
                target = build_target(form)
                check_target(claims, appid=target.appid, bucket=target.bucket)
                call = V1Call(op=op_name, target=target, request=op.parse(form))
                request[V1_CALL] = call
                headers = request.headers
                inbound = Inbound(
                    path=request.path,
                    body=request.get(BODY, b""),
                    content_type=headers.get("Content-Type", ""),
                    authorization=headers.get("Authorization"),
                    host=headers.get("Host"),
                )
                result = await serve(op, call, inbound)
            finally:
                budget.release(held)
        finally:
            slots.give(claims.appid)
        if isinstance(result, Verbatim):
            request[V1_CODE] = result.code
            response = web.Response(body=result.body, status=result.status)
            response.headers["Content-Type"] = result.content_type
            return response
        request[V1_CODE] = 0
        return render_result(result)

    return [web.post("/face/{op}", face_op, expect_handler=_expect)]


_FACE_OP = re.compile(r"/face/([^/]+)")
HeadGate = Callable[[str, str, Mapping[str, str]], tuple[str, V1Error] | None]


def head_gate(
    *,
    ops: Collection[str],
    limits: Callable[[], InboundLimits],
    verify: Callable[[str | None], SignatureClaims],
) -> HeadGate:
    """`face_op`'s refusals that need nothing but the request's head, for the connection guard to answer
    before aiohttp builds a request (proxy.v1.server): ``gate(method, path, headers)`` is ``(op, error)``
    for a ``POST /face/<known op>`` whose declared length (21, 23) or Authorization (4, 5, 9-14; `verify`
    is `verify_header` on the current keyring) fails, the same checks in the same order as the route;
    None lets the route decide (every other request, and every head that passes)."""
    names = frozenset(ops)

    def gate(method: str, path: str, headers: Mapping[str, str]) -> tuple[str, V1Error] | None:
        if method != "POST":
            return None
        match = _FACE_OP.fullmatch(path)
        if match is None or match.group(1) not in names:
            return None
        expect = headers.get("Expect")
        if expect is not None and expect.lower() != "100-continue":
            return None  # answered 417 first (proxy.v1.server)
        try:
            declared_length(headers, limits().max_body_bytes)
            verify(headers.get("Authorization"))
        except V1Error as error:
            # without its traceback: its frames reach the caller's (the connection, the body received so far)
            # in a cycle through this error, held until the cyclic GC (~50 MB under a flood of uploads)
            return match.group(1), error.with_traceback(None)
        return None

    return gate


async def _expect(request: web.Request) -> web.StreamResponse | None:
    """``Expect``: 100-continue is answered by the route once the body is wanted (`_continue`)."""
    if request.headers.get("Expect", "").lower() != "100-continue":
        code, message = HTTP_ERRORS[417]
        response = render_error(V1Error(code, message))
        response.set_status(417)
        return response
    return None


async def _continue(request: web.Request) -> None:
    """Send ``100 Continue`` now that the request passed every check made without its body."""
    if request.version == HttpVersion11 and request.headers.get("Expect", "").lower() == "100-continue":
        try:
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        except ConnectionError:
            raise ClientGone("hung up before 100 Continue") from None


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
    except ClientGone as gone:
        request[V1_CUT] = "client_hangup"
        log.info("v1.client_hangup", request_id=request_id, path=request.path[:64], detail=str(gone))
        return web.Response(status=499)  # nobody reads it: the connection is gone
    except BodyTooSlow as slow:
        request[V1_CUT] = "body_timeout"
        log.info("v1.body_timeout", request_id=request_id, path=request.path[:64], detail=str(slow))
        code, message = HTTP_ERRORS[408]
        response = render_error(V1Error(code, message))
        response.set_status(408)
        response.force_close()
        return response
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
