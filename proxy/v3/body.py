"""A v3 request body as the buffers that go on the wire: JSON around base64 images, hashed once, never joined.

Parameters are JSON values, except that binary values (``bytes``, ``bytearray``, ``memoryview``, or a
list of them) are images: they are sent as base64 strings. A 1 MB image then costs one base64 pass
into its own buffer and one SHA-256 pass; it is never copied into a joined body, decoded to ``str``
or scanned by a JSON encoder (base64 needs no escaping).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pybase64

BINARY = (bytes, bytearray, memoryview)
WRITE_SLICE = 256 * 1024
"""Largest single socket write: bounds the copy a transport keeps of what the socket did not take."""
ENCODE_PIECE = 3 * 64 * 1024
"""Image bytes base64-encoded (and hashed) at a time, while the piece is still in cache; a multiple of 3,
so the pieces' base64 texts join into the whole image's."""


@dataclass(frozen=True, slots=True)
class JsonBody:
    """The exact body bytes of a call, as consecutive chunks, with their total size and SHA-256 (hex)."""

    chunks: tuple[bytes, ...]
    size: int
    sha256: str

    def __bytes__(self) -> bytes:
        return self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)

    def __repr__(self) -> str:  # never print image bytes
        return f"JsonBody(size={self.size}, chunks={len(self.chunks)}, sha256={self.sha256[:12]}…)"

    def slices(self) -> Iterator[memoryview]:
        """The body in writes of at most WRITE_SLICE bytes, without copying."""
        for chunk in self.chunks:
            view = memoryview(chunk)
            for start in range(0, len(view), WRITE_SLICE):
                yield view[start : start + WRITE_SLICE]


def _is_binary_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, BINARY) for v in value)


def encode_body(params: Mapping[str, Any]) -> JsonBody:
    """Compact UTF-8 JSON of a request's parameters, binary values as base64 strings."""
    if not any(isinstance(v, BINARY) or _is_binary_list(v) for v in params.values()):
        body = orjson.dumps(params if isinstance(params, dict) else dict(params))
        return JsonBody((body,), len(body), hashlib.sha256(body).hexdigest())
    chunks: list[bytes] = []
    digest = hashlib.sha256()
    text = bytearray(b"{")  # JSON text between images

    def emit(chunk: bytes) -> None:
        digest.update(chunk)
        chunks.append(chunk)

    def image(data: bytes | bytearray | memoryview) -> None:
        nonlocal text
        text += b'"'
        emit(bytes(text))
        view = memoryview(data).cast("B")
        for start in range(0, len(view), ENCODE_PIECE):
            emit(pybase64.b64encode(view[start : start + ENCODE_PIECE]))
        text = bytearray(b'"')

    for index, (key, value) in enumerate(params.items()):
        if index:
            text += b","
        text += orjson.dumps(key)
        text += b":"
        if isinstance(value, BINARY):
            image(value)
        elif _is_binary_list(value):
            for position, item in enumerate(value):
                text += b"," if position else b"["
                image(item)
            text += b"]"
        else:
            text += orjson.dumps(value)
    text += b"}"
    emit(bytes(text))
    return JsonBody(tuple(chunks), sum(map(len, chunks)), digest.hexdigest())


def decode_body(body: bytes) -> Any:
    """Parse a reply body; raises ValueError when it is not JSON."""
    return orjson.loads(body)
