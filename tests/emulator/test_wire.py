"""Wire faithfulness: exact Content-Type, envelopes, TC3 verification errors, common parameter errors."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from proxy.emulator.app import EmulatorConfig, create_emulator_app
from proxy.v3 import signer
from tests.emulator.conftest import SECRET_ID, SECRET_KEY, make_client, req

ACTION_HEADERS = {"X-TC-Version": "2020-03-03", "X-TC-Region": "ap-guangzhou"}


def signed(
    host: str,
    action: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    key: str = SECRET_KEY,
    version: str = "2020-03-03",
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    auth = signer.authorization(
        credential=signer.Credential(SECRET_ID, key),
        service="iai",
        host=host,
        content_type="application/json",
        payload=body,
        timestamp=ts,
    )
    return {
        "Authorization": auth,
        "Content-Type": "application/json",
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(ts),
        "X-TC-Version": version,
        "X-TC-Region": "ap-guangzhou",
    }


@pytest.fixture
async def http(aiohttp_client: Any) -> Any:
    return await aiohttp_client(create_emulator_app(EmulatorConfig(credentials=((SECRET_ID, SECRET_KEY),))))


async def call(http: Any, action: str, body: bytes, **kw: Any) -> tuple[Any, dict[str, Any]]:
    host = f"{http.server.host}:{http.server.port}"
    headers = signed(host, action, body, **kw)
    response = await http.post("/", data=body, headers=headers)
    return response, json.loads(await response.read())


async def test_content_type_is_exactly_application_json(http: Any) -> None:
    response, body = await call(http, "GetGroupList", b"{}")
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    assert body["Response"]["GroupNum"] == 0 and len(body["Response"]["RequestId"]) == 36
    response, body = await call(http, "GetPersonBaseInfo", b'{"PersonId": "x"}')
    assert response.headers["Content-Type"] == "application/json"
    assert body["Response"]["Error"]["Code"] == "InvalidParameterValue.PersonIdNotExist"
    assert "RequestId" in body["Response"]


@pytest.mark.parametrize(
    ("action", "body", "kw", "code"),
    [
        ("GetGroupList", b"{}", {"key": "wrong"}, "AuthFailure.SignatureFailure"),
        ("GetGroupList", b"{}", {"timestamp": int(time.time()) - 3600}, "AuthFailure.SignatureExpire"),
        ("NoSuchThing", b"{}", {}, "InvalidAction"),
        ("GetGroupList", b"{}", {"version": "2018-03-01"}, "NoSuchVersion"),
        ("GetGroupList", b"{not json", {}, "InvalidParameter"),
        ("GetGroupList", b'{"Limit": "ten"}', {}, "InvalidParameter"),
        ("GetGroupList", b'{"Bogus": 1}', {}, "UnknownParameter"),
        ("GetPersonBaseInfo", b"{}", {}, "MissingParameter"),
        ("GetGroupList", b'{"Limit": 1001}', {}, "InvalidParameterValue.LimitExceed"),
        ("GetGroupList", b'{"Offset": -1}', {}, "InvalidParameterValue.OffsetExceed"),
    ],
)
async def test_common_errors(http: Any, action: str, body: bytes, kw: dict[str, Any], code: str) -> None:
    _, reply = await call(http, action, body, **kw)
    assert reply["Response"]["Error"]["Code"] == code


async def test_body_is_verified_as_received(http: Any) -> None:
    host = f"{http.server.host}:{http.server.port}"
    headers = signed(host, "GetGroupList", b'{"Limit": 5}')
    response = await http.post("/", data=b'{"Limit": 6}', headers=headers)
    assert json.loads(await response.read())["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"


async def test_unknown_secret_id_and_garbled_header(http: Any) -> None:
    host = f"{http.server.host}:{http.server.port}"
    headers = signed(host, "GetGroupList", b"{}")
    headers["Authorization"] = headers["Authorization"].replace(SECRET_ID, "AKIDnobody")
    reply = json.loads(await (await http.post("/", data=b"{}", headers=headers)).read())
    assert reply["Response"]["Error"]["Code"] == "AuthFailure.SecretIdNotFound"
    headers["Authorization"] = "TC3-HMAC-SHA256 garbage"
    reply = json.loads(await (await http.post("/", data=b"{}", headers=headers)).read())
    assert reply["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"


def test_sdk_sees_auth_errors(emulator: Any) -> None:
    for secret_id, key, code in (
        ("AKIDtest", "bad", "AuthFailure.SignatureFailure"),
        ("AKIDghost", "k", "AuthFailure.SecretIdNotFound"),
    ):
        with pytest.raises(TencentCloudSDKException) as info:
            make_client(emulator.endpoint, secret_id, key).GetGroupList(req("GetGroupList"))
        assert info.value.get_code() == code
    # a second credential pair configured on the same emulator works
    assert make_client(emulator.endpoint, "AKIDother", "k2").GetGroupList(req("GetGroupList")).GroupNum >= 0
