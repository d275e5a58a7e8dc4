"""How the fuzzers send a request and what they require of every answer (hypothesis test, atheris harness)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from dataclasses import dataclass

from proxy.v1.errors import V1_CODES

STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


@dataclass(frozen=True)
class Answer:
    status: int
    code: int
    raw: bytes


class Unacceptable(AssertionError):
    """An answer no v1 client should ever get: not v1 JSON, a 500, a traceback, an unknown code."""


def exchange(address: tuple[str, int], data: bytes, *, wait_s: float = 15) -> bytes:
    """Send ``data`` on a fresh connection, read until the server closes it (requests say Connection: close).

    No half-close: an EOF from the client is a hang-up, which the proxy may answer with silence."""
    with socket.create_connection(address, timeout=wait_s) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused mid-send: the answer may be there
            sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def check(raw: bytes) -> Answer | None:
    """The first answer in ``raw`` as v1 JSON (None when the server just closed); Unacceptable otherwise."""
    if not raw:
        return None  # closed without a word: allowed only for what is not HTTP at all (callers decide)
    raw = raw.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")  # the interim answer before a wanted body
    found = STATUS_LINE.match(raw)
    if found is None:
        raise Unacceptable(f"not an HTTP answer: {raw[:120]!r}")
    status = int(found.group(1))
    head, _, rest = raw.partition(b"\r\n\r\n")
    if status >= 500 and status not in (502, 503):
        raise Unacceptable(f"status {status}: {raw[:300]!r}")
    if b"application/json" not in head.lower():
        raise Unacceptable(f"not JSON: {raw[:300]!r}")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    body = rest[: int(length.group(1))] if length else rest
    try:
        doc = json.loads(body)
    except ValueError:
        raise Unacceptable(f"body is not JSON: {raw[:300]!r}") from None
    code = doc.get("code") if isinstance(doc, dict) else None
    if not isinstance(code, int) or code not in V1_CODES:
        raise Unacceptable(f"no v1 code: {raw[:300]!r}")
    if b"Traceback" in raw:
        raise Unacceptable(f"a traceback in the answer: {raw[:300]!r}")
    if code == 213 and status == 502 and b"internal error (request" in body:
        raise Unacceptable(f"an internal error for client input: {raw[:300]!r}")
    return Answer(status, code, raw)
