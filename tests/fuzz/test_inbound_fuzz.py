"""Issue 10 item 6: a seeded, time-bounded fuzz of the v1 inbound layer through a running proxy (hypothesis).

Every request, however broken (framing, encodings, signatures, field types, lone surrogates, NULs,
unknown ops), must get a v1 JSON answer with a v1 code, never a 500 or an internal error, and the
proxy must keep serving. ``V1PROXY_FUZZ_SEED`` / ``V1PROXY_FUZZ_EXAMPLES`` change the run; longer
runs: ``tests/fuzz/atheris_inbound.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings

from proxy.commands.demo import Stack, start_stack
from proxy.settings import parse_settings
from tests.e2e.conftest import LoopThread
from tests.fuzz.inputs import request_bytes
from tests.fuzz.wire import check, exchange
from tests.v1.stack import TENANT_A, settings_data, signature

SEED = int(os.environ.get("V1PROXY_FUZZ_SEED", "20261201"))
EXAMPLES = int(os.environ.get("V1PROXY_FUZZ_EXAMPLES", "250"))
BUDGET_S = 60.0  # the whole fuzz, whatever EXAMPLES says


@pytest.fixture(scope="module")
def proxy_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    root = tmp_path_factory.mktemp("fuzz")
    store = root / "meta.db"
    limits = {
        "max_body_bytes": 64 * 1024,
        "body_budget_bytes": 4 * 1024 * 1024,
        "header_timeout_s": 0.5,  # a head or body the fuzzer leaves incomplete is cut quickly
        "body_grace_s": 0.3,
        "body_min_rate_bytes_s": 1024 * 1024,
    }
    loop = LoopThread()
    stack: Stack = loop.run(
        start_stack(
            store_url=f"sqlite:///{store}",
            settings_for=lambda url: parse_settings(
                settings_data(url, Path(store), limits=limits, logging={"format": "json", "level": "error"})
            ),
        )
    )
    host, port = stack.proxy_url.removeprefix("http://").rsplit(":", 1)
    try:
        yield host, int(port)
    finally:
        loop.run(stack.close())
        loop.stop()


def test_every_request_gets_a_v1_answer(proxy_address: tuple[str, int]) -> None:
    started = time.monotonic()
    sig = signature(TENANT_A)

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request_bytes(TENANT_A[0], sig))
    def one(data: bytes) -> None:
        if time.monotonic() - started > BUDGET_S:
            return  # time-bounded: the remaining examples are skipped
        answer = check(exchange(proxy_address, data))
        assert answer is not None, f"closed without an answer: {data[:200]!r}"

    one()
    # and it still serves a plain request
    body = b'{"appid": "%s", "bucket": "stack"}' % TENANT_A[0].encode()
    plain = (
        f"POST /face/getgroupids HTTP/1.1\r\nHost: x\r\nAuthorization: {sig}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    answer = check(exchange(proxy_address, plain))
    assert answer is not None and (answer.status, answer.code) == (200, 0)
