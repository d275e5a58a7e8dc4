"""The v1 routes end to end in-process: the real legacy SDK (in a thread) against POST /face/{op}."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from qcloud_image import Client as LegacyClient
from qcloud_image.auth import Auth
from qcloud_image.type import CIBuffer, CIBuffers, CIUrl, CIUrls

from proxy.domain.faces import FaceAttributes
from proxy.domain.requests import AddFace, Compare, ImageSource, NewPerson, Target, V1Call
from proxy.handlers.ops import OPS, Op
from proxy.limits.replay import LocalReplayGuard
from proxy.v1.auth import Keyring, LegacyKey, SignatureClaims, check_single_use, verify_header
from proxy.v1.errors import V1Error
from proxy.v1.results import (
    AddFaceResult,
    CompareResult,
    DelFaceResult,
    DelPersonResult,
    FaceInfo,
    GetFaceIdsResult,
    GetFaceInfoResult,
    GetGroupIdsResult,
    GetInfoResult,
    GetPersonIdsResult,
    IdentifyCandidate,
    IdentifyResult,
    NewPersonResult,
    SetInfoResult,
    V1Result,
    VerifyResult,
)
from proxy.v1.routes import V1_CALL, V1_CODE, Authenticator, Inbound, InboundLimits, error_middleware, v1_routes

APPID = "1250000000"
KEY = LegacyKey(appid=APPID, secret_id="AKIDlegacy", secret_key="legacy-secret")
IMG = b"\xff\xd8\xff\xe0fake-jpeg\x00\x01\x02\xff\xd9"
IMG2 = b"\x89PNG\r\n\x1a\nfake-png"
LIMIT = 100_000

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]

CANNED: dict[str, V1Result] = {
    "newperson": NewPersonResult("rid", 2, 1, "p", "f1", ("g1", "g2")),
    "delperson": DelPersonResult("rid", "p", 1),
    "addface": AddFaceResult("rid", 2, ("f2", "f3"), (0, 0)),
    "delface": DelFaceResult("rid", 1, ("f2",)),
    "setinfo": SetInfoResult("rid", "p"),
    "getinfo": GetInfoResult("rid", "p", "name", ("f1",), ("g1",), "tag"),
    "getgroupids": GetGroupIdsResult("rid", ("g1", "g2")),
    "getpersonids": GetPersonIdsResult("rid", ("p",)),
    "getfaceids": GetFaceIdsResult("rid", ("f1",)),
    "getfaceinfo": GetFaceInfoResult("rid", FaceInfo("f1", FaceAttributes(1, 2, 30.0, 40.0, 99, 37, 6, True, 5, 6, 0))),
    "verify": VerifyResult("rid", 91.5, True),
    "identify": IdentifyResult("rid", (IdentifyCandidate("p", "f1", 88.0, "tag"),)),
    "compare": CompareResult("rid", 100.0),
}


class Harness:
    def __init__(self) -> None:
        self.calls: list[V1Call] = []
        self.keyring = Keyring([KEY], appids=[APPID])
        self.replay = LocalReplayGuard()
        self.fail_with: BaseException | None = None

    async def serve(self, op: Op[Any, Any], call: V1Call, inbound: Inbound) -> V1Result:
        """The route's `serve`: records the parsed call, answers the op's canned result."""
        assert op is OPS[call.op]
        assert inbound.path == f"/face/{call.op}" and inbound.body  # the body as sent, for a passthrough
        self.calls.append(call)
        if self.fail_with is not None:
            raise self.fail_with
        return CANNED[call.op]

    def routes(self, max_body_bytes: Callable[[], int] = lambda: LIMIT, max_fields: int = 64) -> list[web.RouteDef]:
        return v1_routes(
            ops=OPS,
            serve=self.serve,
            authenticate=self.authenticator,
            limits=lambda: InboundLimits(max_body_bytes=max_body_bytes(), max_fields=max_fields),
        )

    def authenticator(self) -> Authenticator:
        async def authenticate(authorization: str | None) -> SignatureClaims:
            now = time.time()
            claims = verify_header(authorization, keyring=self.keyring, now=now, max_validity_s=86400)
            if claims.single_use:
                await check_single_use(claims, self.replay, window_s=300, now=now)
            return claims

        return authenticate


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
async def client(aiohttp_client: MakeClient, harness: Harness) -> Client:
    app = web.Application(middlewares=[error_middleware])
    app.add_routes(harness.routes())
    return await aiohttp_client(app)


def legacy(client: Client, *, secret_key: str = KEY.secret_key, bucket: str = "bucket") -> LegacyClient:
    sdk = LegacyClient(APPID, KEY.secret_id, secret_key, bucket)
    base = str(client.server.make_url("/")).rstrip("/")
    sdk._conf.build_url = lambda uri: base + "/" + uri.lstrip("/")  # only the address changes
    return sdk


async def run(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    return await asyncio.to_thread(fn, *args)


def ok(answer: dict[str, Any], op: str) -> None:
    assert answer["httpcode"] == 200, answer
    assert answer["code"] == 0, answer
    assert answer["message"] == "OK"
    assert answer["data"]["session_id"] == "rid"


async def test_all_thirteen_ops_through_the_real_sdk(client: Client, harness: Harness) -> None:
    sdk = legacy(client)
    url = CIUrl("http://example.com/a.jpg")
    answers = {
        "newperson": await run(sdk.face_newperson, "p", ["g1", "g2"], CIBuffer(IMG), "name", "a tag"),
        "delperson": await run(sdk.face_delperson, "p"),
        "addface": await run(sdk.face_addface, "p", CIBuffers([IMG, IMG2]), "t"),
        "delface": await run(sdk.face_delface, "p", ["f2"]),
        "setinfo": await run(sdk.face_setinfo, "p", "new name", "new tag"),
        "getinfo": await run(sdk.face_getinfo, "p"),
        "getgroupids": await run(sdk.face_getgroupids),
        "getpersonids": await run(sdk.face_getpersonids, "g1"),
        "getfaceids": await run(sdk.face_getfaceids, "p"),
        "getfaceinfo": await run(sdk.face_getfaceinfo, "f1"),
        "verify": await run(sdk.face_verify, "p", url),
        "identify": await run(sdk.face_identify, "g1", CIBuffer(IMG)),
        "compare": await run(sdk.face_compare, url, CIBuffer(IMG2)),
    }
    for op, answer in answers.items():
        ok(answer, op)
    assert answers["compare"]["data"]["similarity"] == 100.0
    assert answers["verify"]["data"]["ismatch"] is True
    assert answers["getfaceinfo"]["data"]["face_info"]["glass"] is True
    assert [call.op for call in harness.calls] == list(answers)
    assert all(call.target == Target(APPID, "bucket") for call in harness.calls)
    by_op = {call.op: call.request for call in harness.calls}
    assert by_op["newperson"] == NewPerson("p", ("g1", "g2"), ImageSource(data=IMG), "name", "a tag")
    assert by_op["addface"] == AddFace("p", (ImageSource(data=IMG), ImageSource(data=IMG2)), "t")
    assert by_op["compare"] == Compare(ImageSource(url=url), ImageSource(data=IMG2))


async def test_url_variants_through_the_real_sdk(client: Client, harness: Harness) -> None:
    sdk = legacy(client)
    urls = CIUrls(["http://e/1.jpg", "http://e/2.jpg"])
    ok(await run(sdk.face_newperson, "p", ["g"], CIUrl("http://e/0.jpg")), "newperson")
    ok(await run(sdk.face_addface, "p", urls), "addface")
    ok(await run(sdk.face_compare, CIUrl("http://e/a.jpg"), CIUrl("http://e/b.jpg")), "compare")
    assert harness.calls[1].request == AddFace("p", tuple(ImageSource(url=u) for u in urls), None)


async def test_bad_signature_through_the_real_sdk(client: Client, harness: Harness) -> None:
    answer = await run(legacy(client, secret_key="wrong").face_getgroupids)
    assert (answer["httpcode"], answer["code"]) == (401, 14)
    assert harness.calls == []


async def test_bucket_mismatch(client: Client) -> None:
    sign = Auth(APPID, KEY.secret_id, KEY.secret_key).get_sign("other").decode()
    response = await client.post(
        "/face/getgroupids", json={"appid": APPID, "bucket": "bucket"}, headers={"Authorization": sign}
    )
    assert (response.status, (await response.json())["code"]) == (403, 6)


def signed() -> dict[str, str]:
    return {"Authorization": Auth(APPID, KEY.secret_id, KEY.secret_key).get_sign("bucket").decode()}


async def test_unsigned_gets_4_before_field_validation(client: Client) -> None:
    response = await client.post("/face/getinfo", json={"appid": APPID, "person_id": "has space"})
    assert (response.status, (await response.json())["code"]) == (401, 4)
    response = await client.post(
        "/face/getinfo", json={"appid": APPID, "bucket": "bucket", "person_id": "has space"}, headers=signed()
    )
    assert (response.status, (await response.json())["code"]) == (400, -1313)


async def test_missing_appid(client: Client) -> None:
    response = await client.post("/face/getgroupids", json={"bucket": "bucket"}, headers=signed())
    assert (response.status, (await response.json())["code"]) == (400, -1301)


async def test_unknown_op_unknown_path_wrong_method(client: Client) -> None:
    response = await client.post("/face/detect", json={"appid": APPID}, headers=signed())
    doc = await response.json()
    assert (response.status, doc["code"]) == (400, 3)
    assert "detect" in doc["message"]
    response = await client.post("/nothing/here", data=b"x")
    assert (response.status, (await response.json())["code"]) == (404, 3)
    response = await client.get("/face/compare")
    assert (response.status, (await response.json())["code"]) == (405, 3)
    assert response.content_type == "application/json"


async def test_body_too_large_through_the_real_sdk(client: Client, harness: Harness) -> None:
    answer = await run(legacy(client).face_compare, CIBuffer(IMG), CIBuffer(b"\0" * (LIMIT + 1)))
    assert (answer["httpcode"], answer["code"]) == (413, 23)
    assert harness.calls == []


async def test_business_error_from_handler(client: Client, harness: Harness) -> None:
    harness.fail_with = V1Error(-1303, session_id="v3-rid")
    answer = await run(legacy(client).face_getinfo, "nobody")
    assert answer == {
        "code": -1303,
        "message": "person does not exist",
        "data": {"session_id": "v3-rid"},
        "httpcode": 200,
    }


async def test_compare_fail_flag(client: Client, harness: Harness) -> None:
    harness.fail_with = V1Error(-1101, fail_flag=2)
    answer = await run(legacy(client).face_compare, CIBuffer(IMG), CIBuffer(IMG2))
    assert answer["code"] == -1101
    assert answer["data"]["fail_flag"] == 2


async def test_unexpected_exception_is_213_without_traceback(client: Client, harness: Harness) -> None:
    harness.fail_with = RuntimeError("secret detail /path/to/file.py")
    response = await client.post("/face/getgroupids", json={"appid": APPID, "bucket": "bucket"}, headers=signed())
    text = await response.text()
    assert response.status == 502
    doc = json.loads(text)
    assert doc["code"] == 213
    assert "secret detail" not in text and "Traceback" not in text
    assert doc["data"]["session_id"] in doc["message"]


async def test_request_keys_for_the_access_log(aiohttp_client: MakeClient, harness: Harness) -> None:
    seen: dict[str, object] = {}

    @web.middleware
    async def spy(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        seen["call"] = request.get(V1_CALL)
        seen["code"] = request.get(V1_CODE)
        return response

    app = web.Application(middlewares=[spy, error_middleware])
    app.add_routes(harness.routes())
    client = await aiohttp_client(app)
    await client.post("/face/getfaceids", json={"appid": APPID, "bucket": "bucket", "person_id": "p"}, headers=signed())
    assert isinstance(seen["call"], V1Call)
    assert seen["code"] == 0
    seen.clear()
    await client.post("/face/getfaceids", json={"appid": APPID, "bucket": "bucket", "person_id": "p"})
    assert seen == {"call": None, "code": 4}


async def test_config_reload_is_seen_per_request(aiohttp_client: MakeClient, harness: Harness) -> None:
    limit = [LIMIT]
    app = web.Application(middlewares=[error_middleware])
    app.add_routes(harness.routes(max_body_bytes=lambda: limit[0]))
    client = await aiohttp_client(app)
    body = {"appid": APPID, "bucket": "bucket", "person_id": "p"}
    assert (await (await client.post("/face/getinfo", json=body, headers=signed())).json())["code"] == 0
    limit[0] = 10
    assert (await (await client.post("/face/getinfo", json=body, headers=signed())).json())["code"] == 23
