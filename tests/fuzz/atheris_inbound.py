"""Longer, coverage-guided fuzzing of the v1 inbound layer with atheris (not run in CI).

    .venv/bin/pip install atheris
    .venv/bin/python -m tests.fuzz.atheris_inbound -max_total_time=3600 [-seed=1] [corpus_dir]

Starts the emulator + proxy in a background thread (the same settings as the hypothesis fuzz),
then feeds libFuzzer's inputs as requests: the first byte picks a shape (a signed JSON request
with the input as body, a signed multipart one, the input after a v1 request line, the input as
the whole request). Every answer must pass `tests.fuzz.wire.check` (v1 JSON, a v1 code, no 500,
no internal error); a failure is a crash libFuzzer saves with its input.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from tempfile import mkdtemp

from proxy import logs
from proxy.commands.demo import start_stack
from proxy.settings import parse_settings
from tests.e2e.conftest import LoopThread
from tests.fuzz.inputs import BOUNDARY
from tests.fuzz.wire import check, exchange
from tests.v1.stack import TENANT_A, settings_data, signature

LIMITS = {
    "max_body_bytes": 64 * 1024,
    "body_budget_bytes": 4 * 1024 * 1024,
    "header_timeout_s": 0.5,
    "body_grace_s": 0.3,
    "body_min_rate_bytes_s": 1024 * 1024,
}


def _signed(content_type: str, body: bytes, op: str = "newperson") -> bytes:
    head = (
        f"POST /face/{op} HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\nAuthorization: {signature(TENANT_A)}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def shape(data: bytes) -> bytes:
    """The request a fuzz input stands for."""
    if not data:
        return b""
    kind, rest = data[0] % 4, data[1:]
    if kind == 0:
        return _signed("application/json", rest)
    if kind == 1:
        return _signed(f"multipart/form-data; boundary={BOUNDARY}", rest)
    if kind == 2:
        return b"POST /face/getinfo HTTP/1.1\r\nConnection: close\r\n" + rest
    return rest


def main() -> None:
    atheris = importlib.import_module("atheris")  # optional: only this harness needs it
    logs.configure("json", "error")

    store = Path(mkdtemp(prefix="v1proxy-atheris-")) / "meta.db"
    loop = LoopThread()
    stack = loop.run(
        start_stack(
            store_url=f"sqlite:///{store}",
            settings_for=lambda url: parse_settings(
                settings_data(url, store, limits=LIMITS, logging={"format": "json", "level": "error"})
            ),
        )
    )
    host, port = stack.proxy_url.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))

    def one(data: bytes) -> None:
        request = shape(data)
        if request:
            check(exchange(address, request))

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
