"""Hypothesis strategies for v1 requests: valid-looking, half-broken and hostile, signed or not."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from hypothesis import strategies as st

from proxy.handlers.ops import OPS

BOUNDARY = "fuzzboundary"
FIELDS = (
    "appid", "bucket", "person_id", "person_name", "group_id", "group_ids", "face_id", "face_ids",
    "tag", "url", "urlA", "urlB", "image", "imageA", "imageB", "images", "urls", "mode",
)  # fmt: skip
CONTENT_TYPES = (
    "application/json",
    "text/json",
    "",
    "text/plain",
    "application/x-www-form-urlencoded",
    f"multipart/form-data; boundary={BOUNDARY}",
    "multipart/form-data",
    "image/jpeg",
)

texts = st.text(max_size=40)  # any code point, lone surrogates and NULs included
scalars: st.SearchStrategy[Any] = st.one_of(
    texts,
    st.sampled_from(["", " ", "a/b", "p1", "g1", "\ud800", "x\x00y", "1" * 70]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
values: st.SearchStrategy[Any] = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(texts, scalars, max_size=2),
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
)


@st.composite
def json_body(draw: st.DrawFn, appid: str) -> bytes:
    doc: dict[str, Any] = {}
    if draw(st.booleans()):
        doc["appid"] = appid if draw(st.integers(0, 4)) else draw(scalars)
    for name in draw(st.lists(st.one_of(st.sampled_from(FIELDS), texts), max_size=6)):
        doc[name] = draw(values)
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()), allow_nan=True)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate with ensure_ascii=False: send it escaped
        return json.dumps(doc, allow_nan=True).encode("ascii")


@st.composite
def multipart_body(draw: st.DrawFn, appid: str) -> bytes:
    parts = [("appid", appid.encode())] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.one_of(st.sampled_from(FIELDS), st.sampled_from(["images[0]", "images[1]", "x[]", ""]), texts))
        parts.append((name, draw(st.one_of(st.binary(max_size=64), texts.map(lambda t: t.encode("utf-8", "replace"))))))
    out = b""
    for name, value in parts:
        disposition = f'form-data; name="{name}"'.encode("utf-8", "replace")
        out += b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n"
    if draw(st.integers(0, 5)):
        out += b"--" + BOUNDARY.encode() + b"--\r\n"
    return out


@st.composite
def request_bytes(draw: st.DrawFn, appid: str, signature: str) -> bytes:
    """One HTTP/1.1 request to the v1 surface, with hostile variations of every part."""
    op = draw(st.one_of(st.sampled_from(sorted(OPS)), st.sampled_from(["detect", "", "a%00b", "x" * 300])))
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    body = draw(multipart_body(appid) if content_type.startswith("multipart") else json_body(appid))
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.binary(max_size=200))
    headers = [("Host", "fuzz"), ("Connection", "close"), ("Content-Type", content_type)]
    auth = draw(st.sampled_from(["valid", "valid", "none", "garbage", "truncated"]))
    if auth == "valid":
        headers.append(("Authorization", signature))
    elif auth == "garbage":
        headers.append(("Authorization", draw(st.text(alphabet=st.characters(max_codepoint=126), max_size=80))))
    elif auth == "truncated":
        headers.append(("Authorization", signature[: draw(st.integers(0, len(signature)))]))
    encoding = draw(st.sampled_from([None, None, None, "gzip", "deflate", "br", "identity", "zstd"]))
    if encoding is not None:
        headers.append(("Content-Encoding", encoding))
        if encoding == "deflate" and draw(st.booleans()):
            body = zlib.compress(body)
    framing = draw(st.sampled_from(["length", "length", "chunked", "short", "long", "none"]))
    if framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    elif framing in ("length", "short", "long"):
        delta = {"length": 0, "short": -1, "long": 1}[framing]
        headers.append(("Content-Length", str(max(len(body) + delta, 0))))
    if draw(st.integers(0, 9)) == 0:
        headers.append(("Expect", draw(st.sampled_from(["100-continue", "200-ok"]))))
    head = f"POST /face/{op} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("utf-8", "surrogateescape") + body
