"""Issue 10 items 3 and 5 through a running proxy: what is refused before the body, timeouts, caps, budgets."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from proxy.app import METRICS
from proxy.metrics import Metrics
from tests.v1.stack import (
    BUCKET,
    TENANT_A,
    TENANT_B,
    Running,
    exchange,
    read_response,
    running,
    signature,
    v1_code,
)

APPID = TENANT_A[0]


def head(op: str, *, length: int | None, headers: dict[str, str] | None = None, sign: bool = True) -> bytes:
    lines = [f"POST /face/{op} HTTP/1.1", "Host: proxy", "Content-Type: application/json"]
    if sign:
        lines.append(f"Authorization: {signature()}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@asynccontextmanager
async def trickling(writer: asyncio.StreamWriter, piece: bytes, *, every_s: float) -> AsyncIterator[None]:
    """Write ``piece`` every ``every_s`` in the background while the body of the block runs."""

    async def trickle() -> None:
        while not writer.is_closing():
            writer.write(piece)
            await asyncio.sleep(every_s)

    task = asyncio.create_task(trickle())
    try:
        yield
    finally:
        task.cancel()


def metrics(run: Running) -> Metrics:
    return run.stack.proxy.app[METRICS]


def events(run: Running, reason: str) -> float:
    return float(metrics(run).connection_events.labels(reason=reason)._value.get())


def requests_with_code(run: Running, code: str) -> float:
    text = metrics(run).render().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("v1proxy_requests_total{") and f'code="{code}"' in line
    )


GETGROUPIDS = json.dumps({"appid": APPID, "bucket": BUCKET}).encode()


async def test_body_that_is_not_its_content_encoding_is_21(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        bogus = b"this is not gzip"
        status, _, body = await exchange(
            run, head("getgroupids", length=len(bogus), headers={"Content-Encoding": "gzip"}) + bogus
        )
        assert (status, v1_code(body)) == (400, 21)
        assert "Content-Encoding" in json.loads(body)["message"]
        # a real gzip body is still fine
        packed = zlib.compress(GETGROUPIDS)
        status, _, body = await exchange(
            run, head("getgroupids", length=len(packed), headers={"Content-Encoding": "deflate"}) + packed
        )
        assert (status, v1_code(body)) == (200, 0)
        assert requests_with_code(run, "213") == 0


async def test_malformed_http_gets_a_v1_json_answer(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        long_header = b"POST /face/getinfo HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
        for garbage in (b"GARBAGE \x01\x02 HTTP/1.1\r\n\r\n", long_header):
            status, headers, body = await exchange(run, garbage)
            assert status == 400
            assert headers["content-type"].startswith("application/json")
            assert v1_code(body) == 3
        assert events(run, "bad_http") == 2


async def test_unauthenticated_upload_is_refused_without_reading_its_body(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        reader, writer = await asyncio.open_connection(run.host, run.port)
        # a 6 MB body is announced and never sent: the header alone decides
        writer.write(head("newperson", length=6 * 1024 * 1024 - 1, sign=False) + b'{"appid": "')
        started = time.monotonic()
        async with asyncio.timeout(5):
            status, _headers, body = await read_response(reader)
            assert await reader.read() == b""  # and the connection is closed, the body never drained
        assert (status, v1_code(body)) == (401, 4)
        assert time.monotonic() - started < 2
        writer.close()
        forged = head("newperson", length=5_000_000, sign=False, headers={"Authorization": "AAAA" + signature()[4:]})
        status, _, body = await exchange(run, forged)
        assert (status, v1_code(body)) == (401, 14)


async def test_body_appid_is_checked_against_the_signature(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        other = json.dumps({"appid": TENANT_B[0], "bucket": BUCKET}).encode()
        status, _, body = await exchange(run, head("getgroupids", length=len(other)) + other)
        assert (status, v1_code(body)) == (403, 6)


async def test_no_100_continue_for_a_body_that_will_be_refused(tmp_path: Path) -> None:
    expect = {"Expect": "100-continue"}
    limits = {"max_body_bytes": 100_000, "body_budget_bytes": 200_000, "max_inflight_per_tenant": 1}
    async with running(tmp_path, limits=limits) as run:
        status, _, body = await exchange(run, head("getgroupids", length=200_000, headers=expect))
        assert (status, v1_code(body)) == (413, 23)
        status, _, body = await exchange(run, head("getgroupids", length=100, headers=expect, sign=False))
        assert (status, v1_code(body)) == (401, 4)
        # an acceptable one is told to go on, and served
        reader, writer = await asyncio.open_connection(run.host, run.port)
        writer.write(head("getgroupids", length=len(GETGROUPIDS), headers=expect))
        async with asyncio.timeout(5):
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            writer.write(GETGROUPIDS)
            status, _, body = await read_response(reader)
        assert (status, v1_code(body)) == (200, 0)
        writer.close()


async def test_client_hangup_is_logged_and_counted_as_a_hangup(tmp_path: Path) -> None:
    async with running(tmp_path) as run:
        _reader, writer = await asyncio.open_connection(run.host, run.port)
        writer.write(head("getgroupids", length=1000) + b'{"appid": "')
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()
        for _ in range(50):
            if events(run, "client_hangup"):
                break
            await asyncio.sleep(0.05)
        assert events(run, "client_hangup") == 1
        assert requests_with_code(run, "client_hangup") == 1
        assert requests_with_code(run, "213") == 0


async def test_header_timeout_cuts_a_slowloris(tmp_path: Path) -> None:
    async with running(tmp_path, limits={"header_timeout_s": 0.5, "keepalive_timeout_s": 30}) as run:
        reader, writer = await asyncio.open_connection(run.host, run.port)
        started = time.monotonic()
        writer.write(b"POST /face/getinfo HTTP/1.1\r\nHost: x\r\n")
        async with asyncio.timeout(5), trickling(writer, b"X-a: b\r\n", every_s=0.2):  # never complete
            status, _, body = await read_response(reader)
        assert (status, v1_code(body)) == (408, 3)
        assert 0.4 < time.monotonic() - started < 2
        assert events(run, "header_timeout") == 1
        writer.close()


async def test_idle_keepalive_timeout_closes_quiet_connections(tmp_path: Path) -> None:
    async with running(tmp_path, limits={"keepalive_timeout_s": 0.5}) as run:
        reader, writer = await asyncio.open_connection(run.host, run.port)
        writer.write(head("getgroupids", length=len(GETGROUPIDS)) + GETGROUPIDS)
        async with asyncio.timeout(5):
            status, _, _ = await read_response(reader)
            assert status == 200
            started = time.monotonic()
            assert await reader.read() == b""  # closed by the server while idle
        assert 0.3 < time.monotonic() - started < 2.5
        writer.close()


async def test_connection_cap_answers_503_beyond_it(tmp_path: Path) -> None:
    async with running(tmp_path, limits={"max_connections": 3}) as run:
        held = [await asyncio.open_connection(run.host, run.port) for _ in range(3)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection(run.host, run.port)
        async with asyncio.timeout(5):
            status, _, body = await read_response(reader)
        assert (status, v1_code(body)) == (503, 213)
        assert events(run, "connection_cap") == 1
        for _, w in held:
            w.close()
        writer.close()
        await asyncio.sleep(0.2)
        status, _, body = await exchange(run, head("getgroupids", length=len(GETGROUPIDS)) + GETGROUPIDS)
        assert status == 200


async def test_a_stalled_body_is_cut_at_the_minimum_rate(tmp_path: Path) -> None:
    limits = {"body_min_rate_bytes_s": 10_000, "body_grace_s": 0.3, "body_timeout_s": 30}
    async with running(tmp_path, limits=limits) as run:
        reader, writer = await asyncio.open_connection(run.host, run.port)
        started = time.monotonic()
        writer.write(head("getgroupids", length=50_000) + b'{"appid": "')
        async with asyncio.timeout(5):
            status, _, body = await read_response(reader)
        assert (status, v1_code(body)) == (408, 3)
        assert time.monotonic() - started < 2
        assert events(run, "body_timeout") == 1
        writer.close()


async def test_a_body_slower_than_the_body_timeout_is_cut(tmp_path: Path) -> None:
    limits = {"body_min_rate_bytes_s": 1, "body_grace_s": 0, "body_timeout_s": 0.6}
    async with running(tmp_path, limits=limits) as run:
        reader, writer = await asyncio.open_connection(run.host, run.port)
        started = time.monotonic()
        writer.write(head("getgroupids", length=5000))
        async with asyncio.timeout(5), trickling(writer, b" " * 20, every_s=0.05):  # fast enough for the rate
            status, _, body = await read_response(reader)
        assert (status, v1_code(body)) == (408, 3)
        assert 0.5 < time.monotonic() - started < 2
        writer.close()


def signed_by(tenant: tuple[str, str, str], op: str, *, length: int) -> bytes:
    return head(op, length=length, sign=False).replace(
        b"\r\n\r\n", f"\r\nAuthorization: {signature(tenant)}\r\n\r\n".encode()
    )


async def test_body_budget_waits_then_answers_15(tmp_path: Path) -> None:
    # two tenants: each may hold 2 x 50 000, the budget is 3 x 50 000 (the least check-config accepts)
    limits = {
        "max_body_bytes": 50_000,
        "body_budget_bytes": 150_000,
        "max_inflight_per_tenant": 2,
        "body_budget_wait_s": 0.3,
    }
    async with running(tmp_path, limits=limits) as run:
        held = []
        for tenant in (TENANT_A, TENANT_A, TENANT_B):  # 150 000 held, bodies pending
            _reader, writer = await asyncio.open_connection(run.host, run.port)
            writer.write(signed_by(tenant, "getgroupids", length=50_000))
            await writer.drain()
            held.append(writer)
        await asyncio.sleep(0.3)
        started = time.monotonic()
        status, _, body = await exchange(run, signed_by(TENANT_B, "getgroupids", length=40_000))
        assert (status, v1_code(body)) == (429, 15)
        assert time.monotonic() - started >= 0.25
        held.pop().close()  # tenant B's upload goes away: its share comes back
        await asyncio.sleep(0.2)
        other = json.dumps({"appid": TENANT_B[0], "bucket": BUCKET}).encode()
        status, _, body = await exchange(run, signed_by(TENANT_B, "getgroupids", length=len(other)) + other)
        assert (status, v1_code(body)) == (200, 0)
        for writer in held:
            writer.close()


async def test_per_tenant_cap_keeps_other_tenants_served(tmp_path: Path) -> None:
    async with running(tmp_path, limits={"max_inflight_per_tenant": 1}) as run:
        _reader, writer = await asyncio.open_connection(run.host, run.port)
        writer.write(head("getgroupids", length=1000))  # tenant A's one slot, body pending
        await writer.drain()
        await asyncio.sleep(0.2)
        status, _, body = await exchange(run, head("getgroupids", length=len(GETGROUPIDS)) + GETGROUPIDS)
        assert (status, v1_code(body)) == (429, 15)
        other = json.dumps({"appid": TENANT_B[0], "bucket": BUCKET}).encode()
        status, _, body = await exchange(run, signed_by(TENANT_B, "getgroupids", length=len(other)) + other)
        assert (status, v1_code(body)) == (200, 0)
        writer.close()


async def test_upstream_deadline_cuts_a_trickling_v3(tmp_path: Path) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for _ in range(100):  # a byte every 0.2 s: each read is quick, the whole reply takes 20 s
            await response.write(b" ")
            await asyncio.sleep(0.2)
        return response

    slow = web.Application()
    slow.router.add_post("/", trickle)
    slow_runner = web.AppRunner(slow)
    await slow_runner.setup()
    site = web.TCPSite(slow_runner, "127.0.0.1", 0)
    await site.start()
    port = slow_runner.addresses[0][1]
    try:
        upstream = {"endpoint": f"http://127.0.0.1:{port}", "read_timeout": 5, "connect_timeout": 1, "deadline_s": 1}
        sections = {"upstream": upstream}
        async with running(tmp_path, **sections) as run, aiohttp.ClientSession() as http:
            started = time.monotonic()
            reply = await http.post(
                f"{run.url}/face/getgroupids", data=GETGROUPIDS, headers={"Authorization": signature()}
            )
            doc = await reply.json()
            assert doc["code"] == 213
            assert "timeout" in doc["message"]
            assert time.monotonic() - started < 3
    finally:
        await slow_runner.cleanup()
