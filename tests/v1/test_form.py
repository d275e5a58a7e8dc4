"""Body reading: JSON and multipart exactly as the legacy SDK sends them, and every bad input."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import requests
from aiohttp import web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from proxy.v1.form import MAX_TEXT_FIELD_BYTES, _part_name, read_form
from proxy.v1.routes import error_middleware

LIMIT = 200_000
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\r\n--not-a-boundary\r\n" + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01\xfe\xff" * 300

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]


async def describe(request: web.Request) -> web.Response:
    form = await read_form(request, max_body_bytes=LIMIT, max_fields=16)
    return web.json_response(
        {
            "scalars": dict(form.scalars),
            "arrays": {k: list(v) for k, v in form.arrays.items()},
            "blobs": {k: hashlib.sha256(v).hexdigest() for k, v in form.blobs.items()},
            "blob_arrays": {k: [hashlib.sha256(b).hexdigest() for b in v] for k, v in form.blob_arrays.items()},
        }
    )


@pytest.fixture
async def client(aiohttp_client: MakeClient) -> Client:
    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/read", describe)
    return await aiohttp_client(app)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def post_prepared(client: Client, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Build the body with requests exactly as qcloud_image does, then post its bytes and headers."""
    prepared = requests.Request("POST", "http://proxy.test/read", **kwargs).prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() in ("content-type", "content-length")}
    response = await client.post("/read", data=prepared.body, headers=headers)
    return response.status, await response.json()


async def post_raw(client: Client, body: bytes, content_type: str | None) -> tuple[int, dict[str, Any]]:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.post("/read", data=body, headers=headers)
    return response.status, await response.json()


# ---- as the legacy SDK sends them ---------------------------------------------------------------


async def test_sdk_newperson_multipart_every_field_a_file_part(client: Client) -> None:
    files = {
        "appid": "1250000000",
        "bucket": "test",
        "person_id": "person.0#@%中",
        "person_name": "Nicolas Cage",
        "tag": "a/b c",
        "group_ids[0]": "tencent",
        "group_ids[1]": "qq",
        "image": JPEG,
    }
    prepared = requests.Request("POST", "http://x/", files=files).prepare()
    assert isinstance(prepared.body, bytes)
    assert b'name="appid"; filename="appid"' in prepared.body  # what the SDK really sends
    status, form = await post_prepared(client, files=files)
    assert status == 200
    assert form["scalars"] == {
        "appid": "1250000000",
        "bucket": "test",
        "person_id": "person.0#@%中",
        "person_name": "Nicolas Cage",
        "tag": "a/b c",
    }
    assert form["arrays"] == {"group_ids": ["tencent", "qq"]}
    assert form["blobs"] == {"image": sha(JPEG)}


async def test_sdk_newperson_json_url(client: Client) -> None:
    body = {
        "appid": "1250000000",
        "bucket": "test",
        "person_id": "p",
        "group_ids": ["g1", "g2"],
        "url": "http://example.com/a.jpg",
    }
    status, form = await post_prepared(client, data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert status == 200
    assert form["arrays"] == {"group_ids": ["g1", "g2"]}
    assert form["scalars"]["url"] == "http://example.com/a.jpg"


async def test_sdk_addface_images_array(client: Client) -> None:
    files = {"appid": "1", "bucket": "b", "person_id": "p", "images[0]": JPEG, "images[1]": PNG}
    status, form = await post_prepared(client, files=files)
    assert status == 200
    assert form["blob_arrays"] == {"images": [sha(JPEG), sha(PNG)]}


async def test_sdk_addface_file_tuple_keeps_field_name_meaning(client: Client) -> None:
    files = {"appid": "1", "images[1]": ("face%202.jpg", PNG), "images[0]": ("face1.jpg", JPEG)}
    status, form = await post_prepared(client, files=files)
    assert status == 200
    assert form["blob_arrays"] == {"images": [sha(JPEG), sha(PNG)]}


async def test_sdk_mixed_compare_url_a_image_b_is_multipart(client: Client) -> None:
    files = {"appid": "1", "bucket": "b", "urlA": "http://example.com/a.jpg", "imageB": PNG}
    status, form = await post_prepared(client, files=files)
    assert status == 200
    assert form["scalars"] == {"appid": "1", "bucket": "b", "urlA": "http://example.com/a.jpg"}
    assert form["blobs"] == {"imageB": sha(PNG)}


async def test_sdk_empty_bucket_part(client: Client) -> None:
    status, form = await post_prepared(client, files={"appid": "1", "bucket": "", "imageA": JPEG})
    assert status == 200
    assert form["scalars"] == {"appid": "1", "bucket": ""}


async def test_plain_form_fields_without_filename(client: Client) -> None:
    status, form = await post_prepared(client, data={"appid": "1", "group_ids[0]": "g"}, files={"image": JPEG})
    assert status == 200
    assert form["scalars"] == {"appid": "1"}
    assert form["arrays"] == {"group_ids": ["g"]}


async def test_json_numbers_become_text_and_null_is_absent(client: Client) -> None:
    body = b'{"appid": 123456, "bucket": null, "x": 1.5, "y": 2.0, "face_ids": ["a", 7]}'
    status, form = await post_raw(client, body, "application/json")
    assert status == 200
    assert form["scalars"] == {"appid": "123456", "x": "1.5", "y": "2"}
    assert form["arrays"] == {"face_ids": ["a", "7"]}


async def test_json_urls_single_string(client: Client) -> None:
    status, form = await post_raw(client, b'{"appid": "1", "urls": "http://e/a.jpg"}', "application/json")
    assert status == 200
    assert form["scalars"]["urls"] == "http://e/a.jpg"


async def test_json_base64_image(client: Client) -> None:
    import base64

    body = json.dumps({"appid": "1", "image": base64.b64encode(JPEG).decode()}).encode()
    status, form = await post_raw(client, body, "application/json")
    assert status == 200
    assert form["blobs"] == {"image": sha(JPEG)}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_json_sniffed_when_type_missing_or_plain(client: Client, content_type: str | None) -> None:
    status, form = await post_raw(client, b' {"appid": "1"}', content_type)
    assert status == 200
    assert form["scalars"] == {"appid": "1"}


# ---- bad input: a v1 code, never a 500 ------------------------------------------------------------


async def expect(client: Client, body: bytes, content_type: str | None, code: int, status: int) -> str:
    got_status, doc = await post_raw(client, body, content_type)
    assert (got_status, doc["code"]) == (status, code), doc
    assert set(doc) == {"code", "message", "data"}
    assert doc["data"] == {"session_id": ""}
    return str(doc["message"])


BOUNDARY = "b0undary"
MP = f"multipart/form-data; boundary={BOUNDARY}"


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


@pytest.mark.parametrize("content_type", ["application/json", MP, None])
async def test_empty_body(client: Client, content_type: str | None) -> None:
    await expect(client, b"", content_type, 21, 400)


async def test_wrong_content_type(client: Client) -> None:
    message = await expect(client, b"appid=1", "application/x-www-form-urlencoded", 21, 400)
    assert "content type" in message
    await expect(client, b"<xml/>", "application/xml", 21, 400)


async def test_multipart_without_boundary(client: Client) -> None:
    await expect(client, multipart(part("appid", b"1")), "multipart/form-data", 21, 400)


async def test_truncated_multipart(client: Client) -> None:
    body = multipart(part("appid", b"1"), part("image", JPEG, "image"))
    await expect(client, body[: len(body) // 2], MP, 21, 400)


async def test_multipart_framing_as_rfc_2046_allows(client: Client) -> None:
    """Preamble, epilogue, a quoted boundary, padding after a delimiter, an empty part, CRLF inside an image."""
    image = JPEG + b"\r\n--" + BOUNDARY[:-1].encode() + b"\r\n"  # almost a delimiter, inside the data
    body = (
        b"preamble to ignore\r\n"
        + part("appid", b"1").replace(f"--{BOUNDARY}\r\n".encode(), f"--{BOUNDARY}  \t\r\n".encode())
        + part("tag", b"")
        + part("image", image, "image.jpg")
        + f"--{BOUNDARY}--\r\nepilogue to ignore".encode()
    )
    status, form = await post_raw(client, body, f'multipart/form-data; charset=utf-8; boundary="{BOUNDARY}"')
    assert status == 200, form
    assert form["scalars"] == {"appid": "1", "tag": ""}
    assert form["blobs"] == {"image": sha(image)}


@pytest.mark.parametrize(
    "body",
    [
        part("appid", b"1"),  # no closing delimiter
        b"junk" + multipart(part("appid", b"1")),  # delimiter not at the start of a line
        multipart(part("appid", b"1")).replace(b"\r\n\r\n", b"\r\n", 1),  # headers never end
        multipart(part("appid", b"1")).replace(b"Content-Disposition:", b"Content-Disposition", 1),
        multipart(b"--" + BOUNDARY.encode() + b"junk\r\n\r\n1\r\n"),  # text after a delimiter
        multipart(b"--" + BOUNDARY.encode() + b"\r\n\r\n1\r\n"),  # a part without headers has no name
        multipart(part("appid", b"1").replace(b"\r\n\r\n", b"\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n")),
    ],
    ids=[
        "unclosed",
        "not-at-line-start",
        "headers-never-end",
        "header-without-colon",
        "junk-after-delimiter",
        "no-headers",
        "nested",
    ],
)
async def test_malformed_multipart_framing(client: Client, body: bytes) -> None:
    await expect(client, body, MP, 21, 400)


async def test_multipart_garbage(client: Client) -> None:
    await expect(client, b"this is not multipart at all", MP, 21, 400)


async def test_field_twice_multipart(client: Client) -> None:
    message = await expect(client, multipart(part("appid", b"1"), part("appid", b"2")), MP, 21, 400)
    assert "appid" in message


async def test_array_element_twice_and_gap(client: Client) -> None:
    twice = multipart(part("group_ids[0]", b"a"), part("group_ids[0]", b"b"))
    await expect(client, twice, MP, 21, 400)
    gap = multipart(part("group_ids[0]", b"a"), part("group_ids[2]", b"b"))
    assert "indices" in await expect(client, gap, MP, 21, 400)
    mixed = multipart(part("urls", b"a"), part("urls[0]", b"b"))
    await expect(client, mixed, MP, 21, 400)
    brackets = multipart(part("images[]", JPEG))
    await expect(client, brackets, MP, 21, 400)


async def test_field_twice_json(client: Client) -> None:
    await expect(client, b'{"appid": "1", "appid": "2"}', "application/json", 21, 400)


async def test_huge_text_field(client: Client) -> None:
    huge = b"x" * (MAX_TEXT_FIELD_BYTES + 1)
    assert "too long" in await expect(client, multipart(part("tag", huge)), MP, 21, 400)
    body = b'{"tag": "' + huge + b'"}'
    assert "too long" in await expect(client, body, "application/json", 21, 400)


async def test_non_utf8(client: Client) -> None:
    assert "UTF-8" in await expect(client, multipart(part("person_name", b"\xff\xfe\xc3")), MP, 21, 400)
    assert "UTF-8" in await expect(client, b'{"appid": "\xff"}', "application/json", 21, 400)


async def test_binary_image_is_not_decoded_as_text(client: Client) -> None:
    status, form = await post_raw(client, multipart(part("image", b"\xff\xfe\xc3", "image")), MP)
    assert status == 200
    assert form["blobs"] == {"image": sha(b"\xff\xfe\xc3")}


@pytest.mark.parametrize(
    "body",
    [
        b'["appid", "1"]',
        b'"just a string"',
        b"42",
        b'{"appid": {"nested": 1}}',
        b'{"appid": true}',
        b'{"group_ids": [["a"]]}',
        b'{"group_ids": [null]}',
        b'{"appid": "1"',
        b'{"image": "***not base64***"}',
        b"{" * 100_000,
    ],
)
async def test_json_wrong_shape(client: Client, body: bytes) -> None:
    await expect(client, body, "application/json", 21, 400)


async def test_too_many_parts(client: Client) -> None:
    body = multipart(*(part(f"f{i}", b"x") for i in range(17)))
    assert "too many" in await expect(client, body, MP, 21, 400)
    array = multipart(*(part(f"group_ids[{i}]", b"x") for i in range(17)))
    assert "too many" in await expect(client, array, MP, 21, 400)
    doc = json.dumps({"group_ids": [str(i) for i in range(17)]}).encode()
    assert "too many" in await expect(client, doc, "application/json", 21, 400)


async def test_nameless_part(client: Client) -> None:
    body = f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()
    await expect(client, body, MP, 21, 400)


async def test_body_over_limit_by_content_length(client: Client) -> None:
    body = multipart(part("appid", b"1"), part("image", b"\0" * (LIMIT + 1), "image"))
    await expect(client, body, MP, 23, 413)
    await expect(client, b'{"tag": "' + b"x" * LIMIT + b'"}', "application/json", 23, 413)


async def test_body_over_limit_refused_without_reading_it(aiohttp_client: MakeClient) -> None:
    seen: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        try:
            await read_form(request, max_body_bytes=1000)
        finally:
            seen.append(request.content.total_bytes)
        raise AssertionError("unreachable")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/read", handler)
    client = await aiohttp_client(app)
    response = await client.post(
        "/read", data=b"{" + b" " * 5_000_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert (await response.json())["code"] == 23
    assert seen[0] < 5_000_000


async def chunked(body: bytes, size: int = 8192):  # type: ignore[no-untyped-def]
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_body_over_limit_while_streaming_chunked(client: Client) -> None:
    big = multipart(part("appid", b"1"), part("imageA", b"\1" * (LIMIT * 2), "imageA"))
    response = await client.post("/read", data=chunked(big), headers={"Content-Type": MP})
    assert response.status == 413
    assert (await response.json())["code"] == 23
    doc = b'{"tag": "' + b"y" * (LIMIT * 2) + b'"}'
    response = await client.post("/read", data=chunked(doc), headers={"Content-Type": "application/json"})
    assert (response.status, (await response.json())["code"]) == (413, 23)


async def test_chunked_within_limit_is_fine(client: Client) -> None:
    body = multipart(part("appid", b"1"), part("imageA", JPEG, "imageA"))
    response = await client.post("/read", data=chunked(body, 100), headers={"Content-Type": MP})
    assert response.status == 200
    assert (await response.json())["blobs"] == {"imageA": sha(JPEG)}


@given(
    name=st.text(st.characters(whitelist_categories=["L", "N"], whitelist_characters="_-.[] :@#"), max_size=12),
    filename=st.none() | st.text(st.characters(blacklist_categories=["Cc", "Cs"]), max_size=12),
    spaced=st.booleans(),
)
def test_part_names_read_as_aiohttp_reads_them(name: str, filename: str | None, spaced: bool) -> None:
    """The fast path for plain dispositions gives aiohttp's answer; anything unusual is aiohttp's to parse."""
    sep = "; " if spaced else ";"
    disposition = f'form-data{sep}name="{name}"' + (f'{sep}filename="{filename}"' if filename is not None else "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # aiohttp warns about the malformed ones
        _type, params = parse_content_disposition(disposition)
        assert _part_name(disposition) == content_disposition_filename(params, "name")


SEED_LAYOUT = (
    b"----------------acebdf13572468\r\n"
    b'Content-Disposition: form-data; name="appid";\r\n\r\n123456\r\n'
    b"----------------acebdf13572468\r\n"
    b'Content-Disposition: form-data; name="group_ids[0]";\r\n\r\ntencent\r\n'
    b"----------------acebdf13572468\r\n"
    b'Content-Disposition: form-data; name="image"; filename="test.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    + JPEG
    + b"\r\n----------------acebdf13572468--\r\n"
)


async def test_the_seed_documents_own_layout_is_read_silently(client: Client) -> None:
    # seed 002_ writes `name="appid";` (a trailing ";"): aiohttp reads it but warns on stderr, a non-JSON line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, data = await post_raw(client, SEED_LAYOUT, "multipart/form-data;boundary=--------------acebdf13572468")
    assert status == 200, data
    assert data["scalars"] == {"appid": "123456"}
    assert data["arrays"] == {"group_ids": ["tencent"]}
    assert data["blobs"] == {"image": sha(JPEG)}
    assert [str(w.message) for w in caught] == []


def test_unusual_dispositions_go_to_aiohttp_without_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _part_name('form-data; name="appid";') == "appid"  # the fast path, as the seeds write it
        assert _part_name('form-data; name="appid"; ') is None  # aiohttp's verdict (headers arrive stripped)
        assert _part_name("form-data; name*=UTF-8''%E4%B8%AD") == "中"  # RFC 5987, aiohttp's parser
        assert _part_name('form-data; name="a"; ;') is None  # malformed: aiohttp's verdict, no name
    assert [str(w.message) for w in caught] == []
