"""The legacy listener's connection guard: header and idle timeouts, a connection cap, v1 answers for broken HTTP.

aiohttp reads a request's line and headers with no deadline and accepts connections until the
process runs out of file descriptors. `GuardedRunner` serves an app with `GuardedRequestHandler`:
- a request head (line + headers) must be complete ``header_timeout_s`` after its first byte
  (slowloris), else ``408`` with v1 code 3 and the connection is closed;
- a connection waiting for a request with nothing received is closed after ``keepalive_timeout_s``;
- beyond ``max_connections`` open connections a new one gets ``503`` (v1 code 213) and is closed;
- HTTP that does not parse gets ``400`` with v1 code 3 as JSON (never aiohttp's plain text), and
  every such event is one bounded log line (no traceback) and one count by reason;
- a request whose body has not all arrived when its head is complete is first shown to the guard's
  ``refuse`` hook (the app's checks that need the head only: signature, declared length): when it
  answers, those bytes are written and the connection closed at once, and aiohttp never builds a
  request, a task or a response for it (an unauthenticated upload costs its accept, its head and
  one write: the cheapest refusal, for the clients that reconnect as fast as they are refused).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from aiohttp import web
from aiohttp.http_parser import RawRequestMessage
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from proxy.v1.errors import V1Error
from proxy.v1.render import render_error

log = structlog.get_logger("proxy.v1.server")

MAX_LOGGED_TEXT = 160  # characters of an exception message that reach the log


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Connection-level bounds of the legacy listener (restart-only settings)."""

    header_timeout_s: float = 10.0
    keepalive_timeout_s: float = 15.0
    max_connections: int = 4096


# (method, path, headers) of a request head -> the complete answer to write before closing, or None
Refusal = Callable[[str, str, Mapping[str, str]], bytes | None]


class Guard:
    """State shared by all connections of one listener: the limits, the open count, the event sink, the
    refusal made on a request's head alone."""

    def __init__(
        self,
        limits: ConnectionLimits,
        on_event: Callable[[str], None] | None = None,
        refuse: Refusal | None = None,
    ) -> None:
        self.limits = limits
        self.open = 0
        self._on_event = on_event
        self.refuse = refuse

    def event(self, reason: str, **fields: Any) -> None:
        """One bounded log line and one count for a connection-level refusal or cut."""
        if self._on_event is not None:
            self._on_event(reason)
        log.info(f"v1.{reason}", **{k: _bounded(v) for k, v in fields.items()})


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_LOGGED_TEXT:
        return value[:MAX_LOGGED_TEXT] + "..."
    return value


def _raw_response(status: int, reason: str, code: int, message: str) -> bytes:
    """A complete HTTP/1.1 v1 JSON answer that closes the connection (written straight to a transport)."""
    body = orjson.dumps({"code": code, "message": message, "data": {}})
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


HEADER_TIMEOUT_RESPONSE = _raw_response(408, "Request Timeout", 3, "bad request: request headers not received in time")
CONNECTION_CAP_RESPONSE = _raw_response(503, "Service Unavailable", 213, "too many connections; retry shortly")


class GuardedRequestHandler(RequestHandler):
    """aiohttp's HTTP/1 protocol with the guard's deadlines and cap, and v1 answers for parse errors."""

    __slots__ = ("_counted", "_guard", "_head_handle", "_in_request")

    def __init__(self, manager: Server, *, guard: Guard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._head_handle: asyncio.TimerHandle | None = None
        self._in_request = False
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        guard = self._guard
        guard.open += 1
        self._counted = True
        if guard.open > guard.limits.max_connections:
            guard.event("connection_cap", open=guard.open - 1, limit=guard.limits.max_connections)
            self._cut(CONNECTION_CAP_RESPONSE)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._counted:
            self._guard.open -= 1
            self._counted = False
        self._disarm_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:  # a request head is complete
            self._in_request = True
            self._disarm_head()
            # the only message, and aiohttp's handler loop idle (waiting, or not started on a new connection)
            if (
                self._guard.refuse is not None
                and len(self._messages) == 1
                and (self._waiter is not None or self._request_count == 1)
            ):
                self._refuse_on_head(self._guard.refuse)
        elif not self._in_request and self._head_handle is None and data and not self._force_close:
            # the first bytes of a head that is not complete yet: from now on the head timer, not the idle one
            if self._keepalive_handle is not None:
                self._keepalive_handle.cancel()
                self._keepalive_handle = None
            self._head_handle = self._loop.call_later(self._guard.limits.header_timeout_s, self._head_timeout)

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self._in_request = bool(self._messages)  # a pipelined head already parsed is still "in request"

    def _refuse_on_head(self, refuse: Refusal) -> None:
        """A refusal decided on the head, before aiohttp builds the request: write it, close (body unread)."""
        message, payload = self._messages[0]
        if not isinstance(message, RawRequestMessage) or payload.is_eof():
            return  # broken HTTP (handle_error answers), or a complete body: the route answers, keep-alive kept
        try:
            answer = refuse(message.method, message.url.path, message.headers)
        except Exception as exc:  # a bug in the hook: the route decides, as without it
            self._guard.event("http_error", detail="head refusal failed", error=type(exc).__name__)
            return
        if answer is None:
            return
        self._messages.clear()
        if self._task_handler is not None:  # aiohttp's handler loop: waiting for this message, or not started
            self._task_handler.cancel()
            self._task_handler = None
        self._cut(answer)

    def _disarm_head(self) -> None:
        if self._head_handle is not None:
            self._head_handle.cancel()
            self._head_handle = None

    def _head_timeout(self) -> None:
        self._head_handle = None
        if self.transport is None or self._force_close or self._in_request:
            return
        self._guard.event("header_timeout", peer=_peer(self), timeout_s=self._guard.limits.header_timeout_s)
        self._cut(HEADER_TIMEOUT_RESPONSE)

    def _cut(self, answer: bytes) -> None:
        """Write a complete answer and close (the transport sends what was written before closing)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(answer)
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """HTTP that does not parse (or an error outside every handler): a v1 answer, one short log line."""
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        self._guard.event(
            "bad_http",
            peer=_peer(self),
            status=status,
            error=type(exc).__name__ if exc is not None else "",
            detail=(message or "").splitlines()[0] if message else "",
        )
        if status >= 500:
            response = render_error(V1Error(213, "internal error"))
            response.set_status(502)
        else:
            response = render_error(V1Error(3, "bad request: malformed HTTP request"))
            response.set_status(status)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        exc = kw.get("exc_info")
        error = type(exc).__name__ if isinstance(exc, BaseException) else ""
        self._guard.event("http_error", detail=str(args[0]) if args else "", error=error)


def _peer(handler: RequestHandler) -> str:
    transport = handler.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else ""


# The one path shape the v1 routes serve; an ``Expect`` on any other request is answered here, so aiohttp's
# default expect handling (``100 Continue`` before a 404, a plain-text 417) never runs.
_V1_PATH = re.compile(r"/face/[^/]+")


def _expect_guarded(handler: Callable[[BaseRequest], Awaitable[web.StreamResponse]]) -> Any:
    # a plain function handing back the handler's awaitable: no coroutine of its own around every request
    def handle(request: BaseRequest) -> Awaitable[web.StreamResponse]:
        expect = request.headers.get("Expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                return _answered(_v1_answer(417, 3, "bad request: unsupported Expect header (only 100-continue)"))
            if request.method != "POST" or not _V1_PATH.fullmatch(request.path):
                return _answered(_v1_answer(404, 3, "bad request: unknown path (v1 serves POST /face/<op>)"))
        return handler(request)

    return handle


async def _answered(response: web.StreamResponse) -> web.StreamResponse:
    return response


def _v1_answer(status: int, code: int, message: str) -> web.StreamResponse:
    response = render_error(V1Error(code, message))
    response.set_status(status)
    response.force_close()  # the body (if any) is not read
    return response


class GuardedServer(Server):
    """An aiohttp Server whose connections are `GuardedRequestHandler`s sharing one `Guard`."""

    def __init__(self, template: Server, guard: Guard) -> None:
        super().__init__(
            _expect_guarded(template.request_handler),
            request_factory=template.request_factory,
            handler_cancellation=template.handler_cancellation,
            loop=template._loop,
            **template._kwargs,
        )
        self.guard = guard

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, guard=self.guard, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An AppRunner serving through `GuardedServer`: the only way the legacy listener is started."""

    def __init__(
        self,
        app: web.Application,
        limits: ConnectionLimits,
        *,
        on_event: Callable[[str], None] | None = None,
        refuse: Refusal | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("access_log", None)
        kwargs["keepalive_timeout"] = limits.keepalive_timeout_s
        kwargs["lingering_time"] = 0  # an unread (refused) body is not drained: the connection is closed
        super().__init__(app, **kwargs)
        self.guard = Guard(limits, on_event, refuse)

    async def _make_server(self) -> Server:
        return GuardedServer(await super()._make_server(), self.guard)
