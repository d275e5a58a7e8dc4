"""Malformed requests against the running proxy: each a v1 code and message, never a 500 or a traceback."""

from __future__ import annotations

import pytest
import requests
from qcloud_image import Auth

from tests.e2e.conftest import BUCKET, TENANT_A, World

SIGNATURE = Auth(*TENANT_A).get_sign(BUCKET, 3600).decode()
BOUNDARY = "----v1proxytest"


def post(world: World, op: str, body: bytes, content_type: str | None, *, signed: bool = True) -> requests.Response:
    headers = {"Host": "service.image.myqcloud.com"}
    if content_type:
        headers["Content-Type"] = content_type
    if signed:
        headers["Authorization"] = SIGNATURE
    return requests.post(f"{world.stack.proxy_url}/face/{op}", data=body, headers=headers, timeout=30)


def multipart(*parts: tuple[str, bytes]) -> bytes:
    out = b""
    for name, value in parts:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


MP = f"multipart/form-data; boundary={BOUNDARY}"
APPID = TENANT_A[0].encode()
CASES = {
    "empty body": ("getgroupids", b"", "application/json", 21),
    "wrong content type": ("getgroupids", b"appid=1", "application/x-www-form-urlencoded", 21),
    "json array": ("getgroupids", b"[1, 2]", "application/json", 21),
    "json of the wrong shape": (
        "getinfo",
        b'{"appid": "%s", "bucket": "legacy", "person_id": {"a": 1}}' % APPID,
        "application/json",
        21,
    ),
    "not json": ("getgroupids", b"{nope", "application/json", 21),
    "non-utf-8 field": (
        "getinfo",
        multipart(("appid", APPID), ("bucket", b"legacy"), ("person_id", b"\xff\xfe")),
        MP,
        21,
    ),
    "field twice": ("getinfo", multipart(("appid", APPID), ("appid", APPID), ("person_id", b"p")), MP, 21),
    "truncated multipart": ("getinfo", multipart(("appid", APPID), ("person_id", b"p"))[:-30], MP, 21),
    "missing appid": ("getgroupids", b'{"bucket": "legacy"}', "application/json", -1301),
    "unknown op": ("frobnicate", b'{"appid": "%s"}' % APPID, "application/json", 3),
    "0-byte image": (
        "verify",
        multipart(("appid", APPID), ("bucket", b"legacy"), ("person_id", b"p"), ("image", b"")),
        MP,
        -1300,
    ),
    "id with a slash": (
        "getinfo",
        b'{"appid": "%s", "bucket": "legacy", "person_id": "a/b"}' % APPID,
        "application/json",
        -1313,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_v1_code(world: World, case: str) -> None:
    op, body, content_type, code = CASES[case]
    response = post(world, op, body, content_type)
    assert response.status_code < 500 or code == 213
    reply = response.json()
    assert reply["code"] == code, reply
    assert reply["message"] and "Traceback" not in response.text


def test_body_over_the_limit_is_23_without_being_read(world: World) -> None:
    body = multipart(("appid", APPID), ("bucket", b"legacy"), ("image", b"\xff" * (3 * 1024 * 1024)))
    response = post(world, "identify", body, MP)
    assert response.status_code == 413
    assert response.json()["code"] == 23


def test_unsigned_request_is_4(world: World) -> None:
    response = post(
        world, "getgroupids", b'{"appid": "%s", "bucket": "legacy"}' % APPID, "application/json", signed=False
    )
    assert response.json()["code"] == 4 and response.status_code == 401


def test_stored_data_survives_bad_input(world: World) -> None:
    from qcloud_image import CIFile

    from tests.e2e.conftest import ok

    client = world.client()
    ok(client.face_newperson("survivor", ["keep"], CIFile(str(world.photo(0, 6))), "Keep Me"))
    post(
        world,
        "setinfo",
        b'{"appid": "%s", "bucket": "legacy", "person_id": "survivor", "person_name": 5,' % APPID,
        "application/json",
    )
    post(world, "delperson", multipart(("appid", APPID), ("person_id", b"survivor"))[:-10], MP)
    assert ok(client.face_getinfo("survivor"))["person_name"] == "Keep Me"
