"""The v3 body encoder: JSON with binary values as base64, hashed once, sliced without copies."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.v3.body import WRITE_SLICE, encode_body

TEXT = st.text(max_size=20)
SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT
VALUES = SCALARS | st.lists(SCALARS, max_size=3) | st.binary(max_size=64) | st.lists(st.binary(max_size=16), max_size=3)


def as_json(value: object) -> object:
    """What a binary value must arrive as: its base64 text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list) and value and all(isinstance(v, bytes) for v in value):
        return [as_json(v) for v in value]
    return value


@given(st.dictionaries(TEXT, VALUES, max_size=6))
def test_body_is_the_json_of_the_params_with_images_as_base64(params: dict[str, object]) -> None:
    body = encode_body(params)
    raw = bytes(body)
    assert json.loads(raw) == {k: as_json(v) for k, v in params.items()}
    assert body.size == len(raw)
    assert body.sha256 == hashlib.sha256(raw).hexdigest()
    assert b"".join(body.slices()) == raw


def test_text_only_params_are_one_compact_chunk() -> None:
    body = encode_body({"PersonId": "p1", "GroupIds": ["g"], "MaxFaceNum": 1})
    assert body.chunks == (b'{"PersonId":"p1","GroupIds":["g"],"MaxFaceNum":1}',)


def test_images_are_their_own_chunks_and_slices_do_not_copy() -> None:
    image = bytes(range(256)) * 4000  # 1,024,000 bytes
    body = encode_body({"PersonId": "p", "Image": image})
    # the image's base64 is its own chunks (encoded piece by piece), never joined with the JSON around it
    assert body.chunks[0] == b'{"PersonId":"p","Image":"' and body.chunks[-1] == b'"}'
    assert b"".join(body.chunks[1:-1]) == base64.b64encode(image)
    slices = list(body.slices())
    assert max(len(s) for s in slices) <= WRITE_SLICE
    assert all(any(s.obj is c for c in body.chunks) for s in slices)  # views of the chunks themselves


def test_repr_never_shows_image_bytes() -> None:
    body = encode_body({"Image": b"secret-face-bytes"})
    assert "secret" not in repr(body) and base64.b64encode(b"secret-face-bytes").decode() not in repr(body)


def test_nested_binary_is_refused() -> None:
    with pytest.raises(TypeError):
        encode_body({"Outer": {"Image": b"x"}})
