"""v1 signature codes, both hosts' paths, body limits: the legacy SDK where it can, raw requests where it cannot."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from qcloud_image import CIBuffer
from qcloud_image.auth import Auth

from proxy.emulator.synthetic import subject_photo
from proxy.v1.auth import LegacyKey, sign
from tests.legacy.conftest import APP_A, APP_B, BUCKET, LegacyWorld, fails, ok, uid

KEY_A = LegacyKey(APP_A.appid, APP_A.secret_id, APP_A.secret_key)


def _post(
    world: LegacyWorld,
    op: str,
    body: dict[str, Any],
    authorization: str | None,
    host: str = "service.image.myqcloud.com",
) -> dict[str, Any]:
    headers = {"Host": host, "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = requests.post(f"{world.service.url}/face/{op}", data=json.dumps(body), headers=headers, timeout=30)
    assert response.headers["Content-Type"] == "application/json"
    reply: dict[str, Any] = response.json()
    reply["httpcode"] = response.status_code
    return reply


def _body(appid: str = APP_A.appid, bucket: str | None = BUCKET) -> dict[str, Any]:
    body = {"appid": appid}
    if bucket is not None:
        body["bucket"] = bucket
    return body


def _plain(
    *,
    appid: str = APP_A.appid,
    bucket: str | None = BUCKET,
    secret_id: str = APP_A.secret_id,
    e: int | None = None,
    t: int | None = None,
) -> str:
    now = int(time.time())
    t = now if t is None else t
    e = now + 60 if e is None else e
    b = f"&b={bucket}" if bucket is not None else ""
    return f"a={appid}{b}&k={secret_id}&e={e}&t={t}&r=12345&f="


def test_sdk_detected_signature_failures(legacy_world: LegacyWorld) -> None:
    unknown_appid = legacy_world.client(APP_A).__class__("1259999999", APP_A.secret_id, APP_A.secret_key, BUCKET)
    fails(unknown_appid.face_getgroupids(), 10, 403)
    unknown_id = legacy_world.client().__class__(APP_A.appid, "AKIDnobody", APP_A.secret_key, BUCKET)
    fails(unknown_id.face_getgroupids(), 11, 401)
    other_apps_key = legacy_world.client().__class__(APP_A.appid, APP_B.secret_id, APP_B.secret_key, BUCKET)
    fails(other_apps_key.face_getgroupids(), 12, 403)
    wrong_key = legacy_world.client(secret_key="not-the-key")
    fails(wrong_key.face_newperson(uid("p"), [uid("g")], CIBuffer(subject_photo(0, 0))), 14, 401)


def test_raw_signature_failures(legacy_world: LegacyWorld) -> None:
    body = _body()
    assert fails(_post(legacy_world, "getgroupids", body, None), 4, 401)["session_id"]
    fails(_post(legacy_world, "getgroupids", body, ""), 4, 401)
    fails(_post(legacy_world, "getgroupids", body, "@@not base64@@"), 5, 401)
    fails(_post(legacy_world, "getgroupids", body, sign(KEY_A, "a=1&b=2")), 5, 401)  # fields missing
    fails(_post(legacy_world, "getgroupids", body, sign(KEY_A, _plain(bucket="other-bucket"))), 6, 403)
    fails(_post(legacy_world, "getgroupids", _body(APP_B.appid), sign(KEY_A, _plain())), 6, 403)
    now = int(time.time())
    fails(_post(legacy_world, "getgroupids", body, sign(KEY_A, _plain(e=now - 10, t=now - 70))), 9, 401)
    fails(_post(legacy_world, "getgroupids", body, sign(KEY_A, _plain(e=now + 100 * 86400))), 9, 401)
    single_use = sign(KEY_A, _plain(e=0))
    first = _post(legacy_world, "getgroupids", body, single_use)
    assert first["code"] in (0, -1307), first  # accepted once
    fails(_post(legacy_world, "getgroupids", body, single_use), 13, 401)
    # the SDK's own signature, reused for many requests (multi-use), keeps working
    reusable = Auth(APP_A.appid, APP_A.secret_id, APP_A.secret_key).get_sign(BUCKET, 60).decode("ascii")
    for _ in range(3):
        assert _post(legacy_world, "getgroupids", body, reusable)["code"] in (0, -1307)


def test_request_shape_failures(legacy_world: LegacyWorld) -> None:
    good = sign(KEY_A, _plain())
    fails(_post(legacy_world, "getgroupids", {"bucket": BUCKET}, good), -1301, 400)  # no appid
    no_bucket = sign(KEY_A, _plain(bucket=None))
    fails(
        _post(legacy_world, "getgroupids", _body(bucket=None), no_bucket), -1301, 400
    )  # service host: bucket required
    fails(_post(legacy_world, "getinfo", {**_body(), "person_id": ["a", "b"]}, good), 21, 400)
    fails(_post(legacy_world, "nosuchop", _body(), good), 3, 404)
    response = requests.get(f"{legacy_world.service.url}/face/getinfo", timeout=30)
    assert response.status_code == 405 and response.json()["code"] == 3
    raw = requests.post(
        f"{legacy_world.service.url}/face/getinfo",
        data=b"{not json",
        headers={"Content-Type": "application/json", "Authorization": good},
        timeout=30,
    )
    assert (raw.status_code, raw.json()["code"]) == (400, 21)
    big = requests.post(
        f"{legacy_world.service.url}/face/getinfo",
        data=b"x" * (1536 * 1024 + 10),
        headers={"Content-Type": "application/json", "Authorization": good},
        timeout=30,
    )
    assert (big.status_code, big.json()["code"]) == (413, 23)


def test_recognition_host_serves_only_a_bucketless_compare(legacy_world: LegacyWorld) -> None:
    host = "recognition.image.myqcloud.com"
    url_a, url_b = legacy_world.url("subject1_photo1.jpg"), legacy_world.url("subject1_photo2.jpg")
    body = {"appid": APP_A.appid, "urlA": url_a, "urlB": url_b}
    reply = _post(legacy_world, "compare", body, sign(KEY_A, _plain(bucket=None)), host=host)
    data = ok(reply)
    assert list(data) == ["similarity", "session_id"] and data["similarity"] >= 90
    # the same pair on the service host scores the same
    service = ok(_post(legacy_world, "compare", {**body, "bucket": BUCKET}, sign(KEY_A, _plain())))
    assert service["similarity"] == data["similarity"]
    fails(
        _post(legacy_world, "compare", body, sign(KEY_A, _plain(bucket=None))), -1301, 400
    )  # service host needs bucket
    fails(_post(legacy_world, "getgroupids", _body(), sign(KEY_A, _plain()), host=host), 3, 404)
    assert (
        fails(
            _post(
                legacy_world,
                "compare",
                {"appid": APP_A.appid, "urlB": url_b},
                sign(KEY_A, _plain(bucket=None)),
                host=f"{host}:443",
            ),
            -1300,
            400,
        )["fail_flag"]
        == 1
    )
