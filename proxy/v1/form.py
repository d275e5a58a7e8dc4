"""Reading a v1 request body (JSON or multipart) into one `V1Form`, bounded and never a 500.

Decisions:
- Which fields are binary is decided by the field *name* (``image``, ``imageA``, ``imageB``,
  ``images[n]``), never by the part's filename: the legacy SDK sends every field as a file part.
- Arrays: ``name[n]`` parts in multipart (indices exactly 0..n-1, any order), JSON arrays in JSON.
  A bare ``name[]`` or a name sent both bare and indexed is refused.
- JSON is read for ``application/json`` (and ``text/json``); for a missing, ``text/plain``,
  ``application/octet-stream`` or ``application/x-www-form-urlencoded`` type the body is read as
  JSON when it starts with ``{`` (``curl -d '{...}'`` sends urlencoded) and refused otherwise.
- JSON numbers become their decimal text (``123456`` -> ``"123456"``); ``null`` means absent;
  booleans and objects are refused. A string under an image name is taken as base64 (the
  SDK's other v1 image APIs send images that way in JSON).
- Text must be keepable: a lone surrogate (JSON ``"\\ud800"``) or a NUL in any field name or text
  value is refused here, before any handler can reach v3 (UTF-8 stores cannot hold the one,
  C-string stores the other, and v1 accepted neither).
- Every refusal is code 21 with a message naming the field, except a body over the limit: 23,
  decided from Content-Length before reading when declared, else while counting the stream.
  A body that does not decode as its ``Content-Encoding`` (gzip, deflate, br) is bad input: 21.
- A body must keep pace (`BodyPace`): after ``grace_s`` it must have averaged ``min_rate`` bytes/s
  and be whole within ``timeout_s``; else `BodyTooSlow`. A client that hangs up mid-body raises
  `ClientGone`: neither is an error of the proxy, and neither is answered with a v1 code.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError
from aiohttp.multipart import (
    BadContentDispositionHeader,
    BadContentDispositionParam,
    content_disposition_filename,
    parse_content_disposition,
)

from proxy.v1.errors import V1Error

BLOB_NAMES = frozenset({"image", "imageA", "imageB"})
BLOB_ARRAY_NAMES = frozenset({"images"})
MAX_TEXT_FIELD_BYTES = 64 * 1024
MAX_ARRAY_INDEX = 999
JSON_TYPES = frozenset({"application/json", "text/json"})
SNIFFED_TYPES = frozenset({"", "text/plain", "application/octet-stream", "application/x-www-form-urlencoded"})
_INDEXED = re.compile(r"(?P<base>[^\[\]]+)\[(?P<index>\d{1,4})\]")
# What requests (the legacy SDK), browsers and the v1 documents (a trailing ";") write; anything else goes
# to aiohttp's full RFC 6266/2231 parser.
_PLAIN_DISPOSITION = re.compile(r'form-data; *name="(?P<name>[^"\\%]*)"(?:; *filename="[^"\\]*")? *;?')
# What no store keeps and v1 never accepted: NUL and UTF-16 surrogate code points (only JSON escapes make them).
_UNKEEPABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class BodyPace:
    """How slowly a body may arrive: ``min_rate`` bytes/s on average after ``grace_s``, whole in ``timeout_s``."""

    min_rate: int = 32 * 1024
    grace_s: float = 5.0
    timeout_s: float = 60.0


UNPACED = BodyPace(min_rate=1, grace_s=3600.0, timeout_s=3600.0)


class BodyTooSlow(Exception):
    """The body did not keep the configured pace (a slow or stalled upload)."""


class ClientGone(Exception):
    """The client closed the connection before its body arrived."""


Blob = bytes | memoryview
"""An image as received: a view into the request body (multipart) or decoded base64 (JSON)."""


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class V1Form:
    """One parsed v1 body: text fields, text arrays, binary fields and binary arrays by name."""

    scalars: Mapping[str, str] = field(default_factory=_empty)
    arrays: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    blobs: Mapping[str, Blob] = field(default_factory=_empty)
    blob_arrays: Mapping[str, tuple[Blob, ...]] = field(default_factory=_empty)

    def __repr__(self) -> str:  # never print image bytes
        blobs = {name: len(data) for name, data in self.blobs.items()}
        blob_arrays = {name: [len(d) for d in items] for name, items in self.blob_arrays.items()}
        return (
            f"V1Form(scalars={dict(self.scalars)!r}, arrays={dict(self.arrays)!r}, "
            f"blobs(bytes)={blobs!r}, blob_arrays(bytes)={blob_arrays!r})"
        )


BODY: web.RequestKey[bytes] = web.RequestKey("v1_body", bytes)
"""The body bytes as received, once read (the staged migration forwards them verbatim to the legacy backend)."""


def _invalid(message: str) -> V1Error:
    return V1Error(21, f"invalid parameter: {message}")


def _keepable(name: str, value: str) -> str:
    """``value`` when a store can keep it as text; code 21 naming the field otherwise."""
    found = _UNKEEPABLE.search(value)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"
        raise _invalid(f"field {_UNKEEPABLE.sub('?', name)!r} contains {what}")
    return value


def _too_large(limit: int) -> V1Error:
    return V1Error(23, f"request body too large (limit {limit} bytes)")


class _Builder:
    """Collects fields, refusing duplicates and too many of them."""

    def __init__(self, max_fields: int, *, keepable: bool = False) -> None:
        self.max_fields = max_fields
        self.keepable = keepable  # every name is known to be keepable text (see _parse_json)
        self.count = 0
        self.scalars: dict[str, str] = {}
        self.blobs: dict[str, Blob] = {}
        self.indexed: dict[str, dict[int, str | Blob]] = {}
        self.arrays: dict[str, tuple[str, ...]] = {}
        self.blob_arrays: dict[str, tuple[Blob, ...]] = {}

    def _claim(self, name: str) -> None:
        if not self.keepable:
            _keepable(name, name)
        self.count += 1
        if self.count > self.max_fields:
            raise _invalid(f"too many fields (limit {self.max_fields})")
        if name in self.scalars or name in self.blobs or name in self.arrays or name in self.blob_arrays:
            raise _invalid(f"field {name!r} sent twice")

    def scalar(self, name: str, value: str) -> None:
        self._claim(name)
        if name in self.indexed:
            raise _invalid(f"field {name!r} sent both plain and as {name}[n]")
        self.scalars[name] = value

    def blob(self, name: str, value: Blob) -> None:
        self._claim(name)
        if name in self.indexed:
            raise _invalid(f"field {name!r} sent both plain and as {name}[n]")
        self.blobs[name] = value

    def element(self, base: str, index: int, value: str | Blob) -> None:
        self._claim(f"{base}[{index}]")
        if base in self.scalars or base in self.blobs:
            raise _invalid(f"field {base!r} sent both plain and as {base}[n]")
        slots = self.indexed.setdefault(base, {})
        if index in slots:
            raise _invalid(f"field {base}[{index}] sent twice")
        slots[index] = value

    def text_array(self, name: str, values: tuple[str, ...]) -> None:
        self._claim(name)
        self.count += max(len(values) - 1, 0)
        if self.count > self.max_fields:
            raise _invalid(f"too many fields (limit {self.max_fields})")
        self.arrays[name] = values

    def blob_array(self, name: str, values: tuple[Blob, ...]) -> None:
        self._claim(name)
        self.count += max(len(values) - 1, 0)
        if self.count > self.max_fields:
            raise _invalid(f"too many fields (limit {self.max_fields})")
        self.blob_arrays[name] = values

    def build(self) -> V1Form:
        for base, slots in self.indexed.items():
            if sorted(slots) != list(range(len(slots))):
                raise _invalid(f"{base}[n] indices must be 0..{len(slots) - 1} without gaps")
            ordered = [slots[i] for i in range(len(slots))]
            if base in BLOB_ARRAY_NAMES:
                self.blob_arrays[base] = tuple(v for v in ordered if not isinstance(v, str))
            else:
                self.arrays[base] = tuple(v for v in ordered if isinstance(v, str))
        return V1Form(
            scalars=MappingProxyType(self.scalars),
            arrays=MappingProxyType(self.arrays),
            blobs=MappingProxyType(self.blobs),
            blob_arrays=MappingProxyType(self.blob_arrays),
        )


def declared_length(headers: Mapping[str, str], max_body_bytes: int) -> int | None:
    """The body's Content-Length (from the request's headers), None when not declared; 21 if not a number,
    23 if over the limit."""
    raw = headers.get("Content-Length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise _invalid("Content-Length is not a number")
    length = int(raw)
    if length > max_body_bytes:
        raise _too_large(max_body_bytes)
    return length


async def read_form(
    request: web.Request, *, max_body_bytes: int, max_fields: int = 64, pace: BodyPace = UNPACED
) -> V1Form:
    """Parse the body of a v1 request; V1Error 21 for bad input, 23 when over ``max_body_bytes``."""
    declared_length(request.headers, max_body_bytes)
    content_type = request.headers.get("Content-Type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    try:
        if mime == "multipart/form-data":
            return await _read_multipart(request, max_body_bytes, max_fields, pace)
        if mime in JSON_TYPES or mime in SNIFFED_TYPES:
            body = await _read_all(request, max_body_bytes, pace)
            if not body.strip():
                raise _invalid("empty body")
            if mime not in JSON_TYPES and not body.lstrip().startswith(b"{"):
                raise _invalid(f"unsupported content type {mime or '(none)'!r}; use JSON or multipart")
            return _parse_json(body, max_fields)
    except web.RequestPayloadError as exc:  # the body as sent does not parse (framing, Content-Encoding)
        if isinstance(exc.__cause__, ContentEncodingError):
            encoding = request.headers.get("Content-Encoding", "")[:32]
            raise _invalid(f"body does not decode as its Content-Encoding {encoding!r}") from None
        raise _invalid("malformed body (bad framing)") from None
    except (ValueError, RuntimeError, TypeError, LookupError, AssertionError, HttpProcessingError) as exc:
        # a body cut short (aiohttp) or a part that does not decode signals with these.
        raise _invalid(f"malformed body ({type(exc).__name__})") from None
    raise _invalid(f"unsupported content type {mime!r}; use application/json or multipart/form-data")


async def _read_all(request: web.Request, max_body_bytes: int, pace: BodyPace) -> bytes:
    """The whole body as one buffer: the chunks as received (no re-slicing), joined once; paced."""
    content = request.content
    if content.is_eof():  # all of it arrived with the head (a small body): nothing to pace or wait for
        body = content.read_nowait()
        if len(body) > max_body_bytes:
            raise _too_large(max_body_bytes)
        request[BODY] = body
        return body
    chunks: list[bytes] = []
    size = 0
    loop = asyncio.get_running_loop()
    started = loop.time()
    cutoff = started + pace.timeout_s
    while True:
        # by then the next bytes must be here: the average since `started` must stay >= min_rate
        due = min(cutoff, started + pace.grace_s + size / pace.min_rate)
        try:
            async with asyncio.timeout_at(due):
                chunk = await content.readany()
        except TimeoutError:
            raise BodyTooSlow(f"{size} body bytes in {loop.time() - started:.1f} s") from None
        except ConnectionError:
            raise ClientGone(f"hung up after {size} body bytes") from None
        if not chunk:
            break
        size += len(chunk)
        if size > max_body_bytes:
            raise _too_large(max_body_bytes)
        chunks.append(chunk)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request[BODY] = body
    return body


def _boundary(content_type: str) -> bytes:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "boundary":
            value = value.strip().strip('"')
            if 0 < len(value) <= 70:
                return value.encode("latin-1", "replace")
    raise _invalid("multipart body without boundary")


def _parts(body: bytes, boundary: bytes) -> Iterator[tuple[dict[str, str], memoryview]]:
    """(headers, content) of each part of a complete multipart body (RFC 2046 §5.1.1); contents are views."""
    view = memoryview(body)
    delimiter = b"--" + boundary
    pos = body.find(delimiter)
    if pos < 0 or (pos > 0 and body[pos - 2 : pos] != b"\r\n"):
        raise _invalid("malformed body (no multipart boundary)")
    pos += len(delimiter)
    while not body.startswith(b"--", pos):  # "--" after a delimiter closes the body; the epilogue is ignored
        line_end = body.find(b"\r\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            raise _invalid("malformed body (truncated or bad multipart delimiter)")
        headers_end = body.find(b"\r\n\r\n", line_end)
        content_end = body.find(b"\r\n" + delimiter, headers_end + 4)
        if headers_end < 0 or content_end < 0:
            raise _invalid("malformed body (truncated multipart)")
        yield _part_headers(view[line_end + 2 : headers_end]), view[headers_end + 4 : content_end]
        pos = content_end + 2 + len(delimiter)


def _part_headers(raw: memoryview) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not raw:
        return headers
    for line in bytes(raw).split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            raise _invalid("malformed body (bad multipart part header)")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("utf-8", "replace")
    return headers


def _part_name(disposition: str | None) -> str | None:
    plain = _PLAIN_DISPOSITION.fullmatch(disposition) if disposition else None
    if plain is not None:
        return plain["name"]
    with warnings.catch_warnings():  # its verdict is the answer; its warning would be a non-JSON stderr line
        warnings.simplefilter("ignore", BadContentDispositionHeader)
        warnings.simplefilter("ignore", BadContentDispositionParam)
        _type, params = parse_content_disposition(disposition)
    return content_disposition_filename(params, "name")


async def _read_multipart(request: web.Request, max_body_bytes: int, max_fields: int, pace: BodyPace) -> V1Form:
    boundary = _boundary(request.headers.get("Content-Type", ""))
    body = await _read_all(request, max_body_bytes, pace)
    builder = _Builder(max_fields)
    for headers, content in _parts(body, boundary):
        if headers.get("content-type", "").lower().startswith("multipart/"):
            raise _invalid("nested multipart is not supported")
        _add_part(_part_name(headers.get("content-disposition")), content, builder)
    if not builder.count:
        raise _invalid("empty body")
    return builder.build()


def _add_part(name: str | None, content: memoryview, builder: _Builder) -> None:
    if not name:
        raise _invalid("a multipart part has no name")
    match = _INDEXED.fullmatch(name)
    base, index = (match["base"], int(match["index"])) if match else (name, None)
    if "[" in name and match is None:
        raise _invalid(f"field name {name!r}: arrays are sent as name[0], name[1], ...")
    if index is not None and index > MAX_ARRAY_INDEX:
        raise _invalid(f"field {name!r}: index too large")
    binary = base in BLOB_ARRAY_NAMES if index is not None else base in BLOB_NAMES
    if base in BLOB_ARRAY_NAMES and index is None:
        raise _invalid(f"field {base!r} must be sent as {base}[0], {base}[1], ...")
    value: str | Blob
    if binary:
        value = content  # a view into the body: the image is never copied
    else:
        if len(content) > MAX_TEXT_FIELD_BYTES:
            raise _invalid(f"field {name!r} is too long (limit {MAX_TEXT_FIELD_BYTES} bytes)")
        try:
            value = _keepable(name, str(content, "utf-8"))
        except UnicodeDecodeError:
            raise _invalid(f"field {name!r} is not UTF-8 text") from None
    if index is not None:
        builder.element(base, index, value)
    elif isinstance(value, str):
        builder.scalar(name, value)
    else:
        builder.blob(name, value)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _invalid(f"field {key!r} sent twice")
        result[key] = value
    return result


_DECODER = json.JSONDecoder(object_pairs_hook=_refuse_duplicate_keys)  # what json.loads(...) would build per call


def _text(name: str, value: Any, *, limit: int | None = MAX_TEXT_FIELD_BYTES, keepable: bool = False) -> str | None:
    """A JSON scalar as v1 text: strings as is, numbers as decimal text, null as absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise _invalid(f"field {name!r} must be a string, not a boolean")
    if isinstance(value, str):
        if limit is not None and len(value) > limit // 4 and len(value.encode("utf-8")) > limit:
            raise _invalid(f"field {name!r} is too long (limit {MAX_TEXT_FIELD_BYTES} bytes)")
        return value if limit is None or keepable else _keepable(name, value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _invalid(f"field {name!r} is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    raise _invalid(f"field {name!r} must be a string, not {type(value).__name__}")


def _base64(name: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"field {name!r} in JSON must be base64 image data") from None


def _parse_json(body: bytes, max_fields: int) -> V1Form:
    try:
        source = body.decode("utf-8")
        if source.startswith("\ufeff"):  # as json.loads says it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", source, 0)
        doc = _DECODER.decode(source)
    except UnicodeDecodeError:
        raise _invalid("JSON body is not UTF-8") from None
    except RecursionError:
        raise _invalid("JSON body nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise _invalid(f"JSON body does not parse ({exc.msg} at {exc.pos})") from None
    if not isinstance(doc, dict):
        raise _invalid(f"JSON body must be an object, not {type(doc).__name__}")
    # NUL and lone surrogates reach JSON text only as \u escapes (raw, the decoder or UTF-8 refuses them):
    # a body without "\u" needs no per-field check
    keepable = b"\\u" not in body
    builder = _Builder(max_fields, keepable=keepable)
    for name, value in doc.items():
        limit = None if name in BLOB_NAMES or name in BLOB_ARRAY_NAMES else MAX_TEXT_FIELD_BYTES
        if keepable and limit is not None and type(value) is str and len(value) <= limit // 4:
            builder.scalar(name, value)  # the common case, as _text passes it
            continue
        if isinstance(value, list):
            items = [_text(f"{name}[{i}]", item, limit=limit, keepable=keepable) for i, item in enumerate(value)]
            if any(item is None for item in items):
                raise _invalid(f"field {name!r} contains null")
            texts = tuple(item for item in items if item is not None)
            if name in BLOB_ARRAY_NAMES:
                builder.blob_array(name, tuple(_base64(name, t) for t in texts))
            else:
                builder.text_array(name, texts)
            continue
        text = _text(name, value, limit=limit, keepable=keepable)
        if text is None:
            continue
        if name in BLOB_NAMES:
            builder.blob(name, _base64(name, text))
        elif name in BLOB_ARRAY_NAMES:
            builder.blob_array(name, (_base64(name, text),))
        else:
            builder.scalar(name, text)
    return builder.build()
