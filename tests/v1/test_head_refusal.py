"""Issue 10 item 3: a request refused on its head alone is answered by the connection guard, before aiohttp
builds a request (proxy.v1.server `Guard.refuse`, proxy.app `head_refusal`), exactly as the route answers it."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import structlog
from aiohttp import web
from structlog.testing import LogCapture

import proxy.app
from proxy.v1.errors import V1Error
from proxy.v1.render import raw_error, render_error
from proxy.v1.server import ConnectionLimits, GuardedRequestHandler, GuardedRunner
from tests.v1.stack import BUCKET, TENANT_A, read_response, running, signature, v1_code
from tests.v1.test_inbound_guard import head, metrics, requests_with_code

REFUSAL = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\nConnection: close\r\n\r\nrefused"


@asynccontextmanager
async def guarded(refuse_calls: list[str], handled: list[str]) -> AsyncIterator[tuple[str, int]]:
    """A GuardedRunner on a one-route app; its refusal answers heads carrying ``X-Refuse`` (a ValueError for
    ``X-Refuse: crash``)."""

    async def handler(request: web.Request) -> web.Response:
        handled.append(request.path)
        await request.read()
        return web.Response(text="handled")

    def refuse(method: str, path: str, headers: Mapping[str, str]) -> bytes | None:
        refuse_calls.append(f"{method} {path}")
        if headers.get("X-Refuse") == "crash":
            raise ValueError("a bug in the hook")
        return REFUSAL if "X-Refuse" in headers else None

    app = web.Application()
    app.router.add_post("/face/{op}", handler)
    runner = GuardedRunner(app, ConnectionLimits(), refuse=refuse)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield host, port
    finally:
        await runner.cleanup()


def upload_head(*, length: int, refuse: str | None = None) -> bytes:
    extra = f"X-Refuse: {refuse}\r\n" if refuse is not None else ""
    return f"POST /face/x HTTP/1.1\r\nHost: p\r\nContent-Length: {length}\r\n{extra}\r\n".encode()


async def test_the_guard_answers_a_refused_head_without_a_request_and_closes() -> None:
    refuse_calls: list[str] = []
    handled: list[str] = []
    async with guarded(refuse_calls, handled) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(upload_head(length=6_000_000, refuse="yes") + b"x" * 65536)  # the rest never comes
        async with asyncio.timeout(5):
            assert await reader.read() == REFUSAL  # the hook's bytes, then the connection is closed
        writer.close()
        assert refuse_calls == ["POST /face/x"]
        assert handled == []  # aiohttp never built a request for it: the handler never ran

        # a keep-alive connection: a served request, then one refused on its head
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(upload_head(length=2) + b"ok")  # complete body: the hook is not asked, the route answers
        async with asyncio.timeout(5):
            status, _, body = await read_response(reader)
            assert (status, body) == (200, b"handled")
            writer.write(upload_head(length=1_000_000, refuse="yes") + b"y")
            assert await reader.read() == REFUSAL
        writer.close()
        assert handled == ["/face/x"]
        assert refuse_calls == ["POST /face/x", "POST /face/x"]


async def test_a_head_the_hook_passes_or_fails_on_goes_to_the_route() -> None:
    refuse_calls: list[str] = []
    handled: list[str] = []
    async with guarded(refuse_calls, handled) as (host, port):
        for refuse in (None, "crash"):  # passed; the hook raising (a bug) is as if there were none
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(upload_head(length=10, refuse=refuse) + b"01234")
            await asyncio.sleep(0.05)
            writer.write(b"56789")
            async with asyncio.timeout(5):
                status, _, body = await read_response(reader)
            assert (status, body) == (200, b"handled")
            writer.close()
    assert handled == ["/face/x", "/face/x"]
    assert len(refuse_calls) == 2


def test_raw_error_is_render_error_as_bytes() -> None:
    error = V1Error(14)
    answer = raw_error(error, request_id="abc-1")
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("ascii").split("\r\n")
    assert lines[0] == "HTTP/1.1 401 Unauthorized"
    assert "Connection: close" in lines
    assert "X-Request-Id: abc-1" in lines
    assert f"Content-Length: {len(body)}" in lines
    rendered = render_error(error)
    assert f"Content-Type: {rendered.headers['Content-Type']}" in lines
    assert body == rendered.body
    assert raw_error(V1Error(14), request_id="x").endswith(body)  # the second one from the cache, same bytes


async def test_a_refusal_on_the_head_answers_logs_and_counts_as_the_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = {"Authorization": "AAAA" + signature()[4:], "X-Request-Id": "trace-7"}
    body = json.dumps({"appid": TENANT_A[0], "bucket": BUCKET}).encode()
    # the access log's logger (structlog may have cached it with another test's configuration)
    captured = LogCapture()
    monkeypatch.setattr(
        proxy.app,
        "log",
        structlog.wrap_logger(
            structlog.ReturnLogger(), processors=[captured], wrapper_class=structlog.make_filtering_bound_logger(0)
        ),
    )
    async with running(tmp_path) as run:
        # the route: a complete body arrived with the head
        reader, writer = await asyncio.open_connection(run.host, run.port)
        writer.write(head("getgroupids", length=len(body), sign=False, headers=forged) + body)
        async with asyncio.timeout(5):
            routed = await read_response(reader)
        writer.close()
        # the guard: a 6 MB upload of which only the head and 64 KB arrived
        reader, writer = await asyncio.open_connection(run.host, run.port)
        writer.write(head("getgroupids", length=6_000_000, sign=False, headers=forged) + b"{" + b" " * 65535)
        async with asyncio.timeout(5):
            guarded_answer = await read_response(reader)
            assert await reader.read() == b""  # closed, the body never read
        writer.close()
        for status, headers, answer in (routed, guarded_answer):
            assert (status, v1_code(answer)) == (401, 14)
            assert headers["x-request-id"] == "trace-7"
            assert headers["content-type"] == "application/json; charset=utf-8"
        assert routed[2] == guarded_answer[2]
        assert "server" in routed[1] and "server" not in guarded_answer[1]  # no aiohttp response for the second
        requests = [e for e in captured.entries if e["event"] == "request"]
        assert [(e["request_id"], e["op"], e["appid"], e["v1_code"], e["status"], e["v3"]) for e in requests] == [
            ("trace-7", "getgroupids", "", 14, 401, [])
        ] * 2
        assert requests_with_code(run, "14") == 2
        assert metrics(run).signature_failures.labels(code="14")._value.get() == 2

        # a declared length over the limit is refused on the head too (23 before the signature, as the route)
        reader, writer = await asyncio.open_connection(run.host, run.port)
        writer.write(head("getgroupids", length=100 * 1024 * 1024, sign=False) + b"{")
        async with asyncio.timeout(5):
            status, _, answer = await read_response(reader)
        writer.close()
        assert (status, v1_code(answer)) == (413, 23)


async def test_a_refused_upload_leaves_no_garbage_behind(tmp_path: Path) -> None:
    """The refusal keeps nothing of the connection alive (no cycle for the GC to find: the body received so far
    is freed when the connection closes, not at the next full collection)."""
    forged = {"Authorization": "AAAA" + signature()[4:]}
    async with running(tmp_path) as run:
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                reader, writer = await asyncio.open_connection(run.host, run.port)
                writer.write(head("newperson", length=6_000_000, sign=False, headers=forged) + b"{" + b" " * 65535)
                async with asyncio.timeout(5):
                    status, _, _ = await read_response(reader)
                    assert status == 401
                    assert await reader.read() == b""
                writer.close()
            await asyncio.sleep(0.2)
            closed = [o for o in gc.get_objects() if isinstance(o, GuardedRequestHandler) and o.transport is None]
        finally:
            gc.enable()
        assert closed == []
