"""upstream.region, .token, .connect_timeout and .pool_size, each changing what a running proxy does."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from proxy.commands.demo import DEMO_V3_ID
from proxy.emulator.faults import FaultConfig
from tests.test_settings_take_effect import post
from tests.v1.stack import Running, running


async def answer(run: Running, op: str = "getinfo", **body: Any) -> tuple[int, str]:
    reply = await post(run, op, body or {"person_id": "nobody"})
    return reply["code"], reply["message"]


# ---- upstream.region ------------------------------------------------------------------------------


async def test_upstream_region_is_the_region_v3_is_asked_in(tmp_path: Path) -> None:
    """v3 answers UnsupportedRegion for a region IAI is not offered in: the proxy's 213, not the app's fault."""
    async with running(tmp_path / "nowhere", upstream={"region": "xx-nowhere"}) as run:
        assert await answer(run) == (213, "internal error")
    async with running(tmp_path / "beijing", upstream={"region": "ap-beijing"}) as run:
        assert await answer(run) == (-1303, "person does not exist")


# ---- upstream.token -------------------------------------------------------------------------------


async def test_upstream_token_is_sent_with_temporary_credentials(tmp_path: Path) -> None:
    """The emulator holds the proxy's v3 key as a temporary one: only the token issued with it passes."""
    for token, expected in (("sts-token-now", -1303), ("sts-token-expired", 108), (None, 108)):
        upstream = {} if token is None else {"token": token}
        async with running(tmp_path / str(token), upstream=upstream) as run:
            run.emulator.tokens[DEMO_V3_ID] = "sts-token-now"
            code, _ = await answer(run)
            assert code == expected, (token, code)


# ---- upstream.connect_timeout ---------------------------------------------------------------------


@contextlib.contextmanager
def blackhole() -> Iterator[str]:
    """An http:// origin whose TCP handshake never completes: a listener with a full accept queue drops SYNs."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_upstream_connect_timeout_bounds_a_handshake_that_never_completes(tmp_path: Path) -> None:
    with blackhole() as origin:
        timings = {}
        for connect_timeout in (0.3, 1.5):
            upstream = {"endpoint": origin, "connect_timeout": connect_timeout}
            async with running(tmp_path / str(connect_timeout), upstream=upstream) as run:
                started = time.monotonic()
                assert await answer(run) == (213, "internal error (upstream timeout)")
                timings[connect_timeout] = time.monotonic() - started
    assert timings[0.3] < 1.2, timings  # cut at its 0.3 s (loose: a shared machine)
    assert timings[1.5] >= 1.5, timings  # waited its longer connect_timeout


# ---- upstream.pool_size ---------------------------------------------------------------------------


async def peak_connections(run: Running, calls: int) -> int:
    """The most v3 calls the emulator served at once while `calls` v1 requests came in together."""
    run.emulator.faults.configure(FaultConfig(latency_ms=150))
    async with aiohttp.ClientSession() as http:
        await http.delete(f"{run.stack.emulator.url}/_emulator/stats")
        codes = await asyncio.gather(*(answer(run, person_id=f"p{i}") for i in range(calls)))
        assert [c for c, _ in codes] == [-1303] * calls
        async with http.get(f"{run.stack.emulator.url}/_emulator/stats") as reply:
            stats = await reply.json()
    peak: int = stats["peak_inflight"]
    return peak


async def test_upstream_pool_size_caps_the_connections_to_v3(tmp_path: Path) -> None:
    for pool_size in (1, 3):
        async with running(tmp_path / str(pool_size), upstream={"pool_size": pool_size}) as run:
            assert await peak_connections(run, calls=4) == pool_size
