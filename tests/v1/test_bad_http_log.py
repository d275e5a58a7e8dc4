"""Issue 10 item 5 through `v1proxy serve`: malformed HTTP costs one short structured log line, never a traceback."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from pathlib import Path

from tests.ops.conftest import config, fast_emulator, start_proxy, write_config

__all__ = ["fast_emulator"]  # the fixture, used by name


def send(address: str, data: bytes) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with contextlib.suppress(ConnectionResetError):  # refused mid-send: the answer is still in the receive buffer
            sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def test_malformed_http_is_one_bounded_log_line(tmp_path: Path, fast_emulator: str) -> None:
    cfg = tmp_path / "proxy.yaml"
    write_config(cfg, config(fast_emulator, tmp_path / "meta.db"))
    proxy = start_proxy(cfg, tmp_path / "proxy.log")
    try:
        attacks = [
            b"\x16\x03\x01\x02\x00" + bytes(range(256)) * 40,  # TLS to a plain port, then noise
            b"POST /face/getinfo HTTP/1.1\r\nHost: x\r\nX-Long: " + b"A" * 100_000 + b"\r\n\r\n",
            b"POST /face/getinfo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            b"POST /face/getinfo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
        ]
        sent = 0
        for attack in attacks:
            sent += len(attack)
            answer = send(proxy.address, attack)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert re.match(rb"HTTP/1\.[01] 400 ", head), answer[:200]
            assert b"application/json" in head
            assert json.loads(body)["code"] == 3
        time.sleep(0.5)
        lines = [line for line in proxy.proc.stderr().splitlines() if line.strip()]
        events = [json.loads(line) for line in lines if '"v1.bad_http"' in line]
        assert len(events) == len(attacks)
        assert all(len(line) < 600 for line in lines if '"v1.bad_http"' in line)
        logged = sum(len(line) for line in lines)
        assert logged < sent / 50  # was ~4 log bytes per byte sent
        assert "Traceback" not in proxy.proc.stderr()
        assert {e["level"] for e in events} == {"info"}
    finally:
        assert proxy.proc.stop() == 0
