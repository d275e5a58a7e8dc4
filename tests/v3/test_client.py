"""V3Client: reply envelope, transport failures, headers; and what really goes over the wire."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import socket
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aioresponses import aioresponses

from proxy.v3 import signer
from proxy.v3.client import (
    CONTENT_TYPE,
    V3CallRecord,
    V3Client,
    V3Endpoint,
    V3Reply,
    make_session,
    parse_reply,
)
from proxy.v3.credentials import static_credentials
from proxy.v3.errors import UPSTREAM_BAD_RESPONSE, UPSTREAM_TIMEOUT, UPSTREAM_UNREACHABLE, V3Error
from proxy.v3.signer import Credential

URL = "https://iai.tencentcloudapi.com"
SECRET_KEY = "top-secret-key-value"
TOKEN = "temporary-session-token"
CRED = Credential("AKIDtest", SECRET_KEY)
TEMP_CRED = Credential("AKIDtemp", SECRET_KEY, TOKEN)
NOW = 1_700_000_000.25


class CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.13's required `stream_writer` argument: supply one."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


def mock_post(mocked: aioresponses, **kwargs: Any) -> None:
    mocked.post(URL + "/", response_class=CompatResponse, **kwargs)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    s = make_session(limit=4)
    yield s
    await s.close()


def make_client(
    session: aiohttp.ClientSession,
    *,
    url: str = URL,
    cred: Credential = CRED,
    records: list[V3CallRecord] | None = None,
    read_timeout: float = 10.0,
) -> V3Client:
    endpoint = V3Endpoint(url=url, region="ap-guangzhou", read_timeout=read_timeout, connect_timeout=1.0)
    return V3Client(
        endpoint,
        static_credentials(cred),
        session,
        on_call=None if records is None else records.append,
        clock=lambda: NOW,
    )


# --- endpoint -----------------------------------------------------------------------------------


def test_endpoint_host() -> None:
    assert V3Endpoint(url="https://iai.tencentcloudapi.com", region="r").host == "iai.tencentcloudapi.com"
    assert V3Endpoint(url="http://127.0.0.1:9000", region="r").host == "127.0.0.1:9000"
    assert V3Endpoint(url="http://127.0.0.1:9000/", region="r").host == "127.0.0.1:9000"
    assert V3Endpoint(url="HTTPS://IAI.Example.COM", region="r").host == "iai.example.com"
    assert V3Endpoint(url="http://[::1]:9000", region="r").host == "[::1]:9000"


@pytest.mark.parametrize(
    "url", ["iai.tencentcloudapi.com", "ftp://host", "https://host/path", "https://host/?q=1", "https://"]
)
def test_endpoint_rejects_non_origin(url: str) -> None:
    with pytest.raises(ValueError, match="v3 endpoint"):
        V3Endpoint(url=url, region="r")


# --- replies (aioresponses) ---------------------------------------------------------------------


async def test_success_returns_response_without_request_id(session: aiohttp.ClientSession) -> None:
    records: list[V3CallRecord] = []
    client = make_client(session, records=records)
    body = {"Response": {"FaceModelVersion": "3.0", "Score": 87.5, "RequestId": "rid-1"}}
    with aioresponses() as mocked:
        mock_post(mocked, payload=body)
        reply = await client.call("CompareFace", {"ImageA": "x", "ImageB": "y"})
        ((_, call),) = mocked.requests.items()
        sent = call[0].kwargs
    assert reply == V3Reply("CompareFace", "rid-1", {"FaceModelVersion": "3.0", "Score": 87.5})
    assert sent["data"] == b'{"ImageA":"x","ImageB":"y"}'
    headers = sent["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Host"] == "iai.tencentcloudapi.com"
    assert headers["X-TC-Action"] == "CompareFace"
    assert headers["X-TC-Version"] == "2020-03-03"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert headers["X-TC-Timestamp"] == "1700000000"
    assert "X-TC-Token" not in headers
    assert headers["Authorization"].startswith(
        "TC3-HMAC-SHA256 Credential=AKIDtest/2023-11-14/iai/tc3_request, SignedHeaders=content-type;host, "
    )
    timeout = sent["timeout"]
    assert (timeout.sock_connect, timeout.sock_read) == (1.0, 10.0)
    assert [(r.action, r.code, r.request_id) for r in records] == [("CompareFace", "", "rid-1")]
    assert records[0].seconds >= 0


async def test_token_header_sent_for_temporary_credentials(session: aiohttp.ClientSession) -> None:
    client = make_client(session, cred=TEMP_CRED)
    with aioresponses() as mocked:
        mock_post(mocked, payload={"Response": {"RequestId": "r"}})
        await client.call("GetGroupList", {})
        ((_, call),) = mocked.requests.items()
    assert call[0].kwargs["headers"]["X-TC-Token"] == TOKEN


async def test_error_envelope_raises_v3_error(session: aiohttp.ClientSession) -> None:
    records: list[V3CallRecord] = []
    client = make_client(session, records=records)
    envelope = {
        "Response": {
            "Error": {"Code": "InvalidParameterValue.PersonIdAlreadyExist", "Message": "人员ID已经存在"},
            "RequestId": "rid-err",
        }
    }
    with aioresponses() as mocked:
        mock_post(mocked, payload=envelope)
        with pytest.raises(V3Error) as info:
            await client.call("CreatePerson", {"PersonId": "p"})
    err = info.value
    assert (err.action, err.code, err.message, err.request_id) == (
        "CreatePerson",
        "InvalidParameterValue.PersonIdAlreadyExist",
        "人员ID已经存在",
        "rid-err",
    )
    assert not err.is_transport
    assert [(r.code, r.request_id) for r in records] == [("InvalidParameterValue.PersonIdAlreadyExist", "rid-err")]


async def test_error_envelope_on_non_200_is_still_the_v3_error(session: aiohttp.ClientSession) -> None:
    client = make_client(session)
    envelope = {"Response": {"Error": {"Code": "InternalError", "Message": "boom"}, "RequestId": "r5"}}
    with aioresponses() as mocked:
        mock_post(mocked, payload=envelope, status=500)
        with pytest.raises(V3Error) as info:
            await client.call("GetGroupList", {})
    assert (info.value.code, info.value.request_id) == ("InternalError", "r5")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>gateway</html>"),
        (502, b"Bad Gateway"),
        (200, b""),
        (200, b"\xff\xfe not utf-8"),
        (200, b"[1, 2]"),
        (200, b'{"Other": {}}'),
        (200, b'{"Response": "text"}'),
        (200, b'{"Response": {"Error": "text", "RequestId": "r"}}'),
        (503, b'{"Response": {"RequestId": "r"}}'),
    ],
)
async def test_bad_responses(session: aiohttp.ClientSession, status: int, body: bytes) -> None:
    records: list[V3CallRecord] = []
    client = make_client(session, records=records)
    with aioresponses() as mocked:
        mock_post(mocked, status=status, body=body)
        with pytest.raises(V3Error) as info:
            await client.call("GetGroupList", {})
    assert info.value.code == UPSTREAM_BAD_RESPONSE
    assert info.value.is_transport
    assert records[0].code == UPSTREAM_BAD_RESPONSE


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (TimeoutError(), UPSTREAM_TIMEOUT),
        (aiohttp.ServerTimeoutError("read"), UPSTREAM_TIMEOUT),
        (aiohttp.ClientConnectionError("refused"), UPSTREAM_UNREACHABLE),
        (aiohttp.ServerDisconnectedError(), UPSTREAM_UNREACHABLE),
        (aiohttp.ClientPayloadError("truncated"), UPSTREAM_BAD_RESPONSE),
    ],
)
async def test_transport_failures(session: aiohttp.ClientSession, exc: Exception, code: str) -> None:
    client = make_client(session, cred=TEMP_CRED)
    with aioresponses() as mocked:
        mock_post(mocked, exception=exc)
        with pytest.raises(V3Error) as info:
            await client.call("GetGroupList", {"Image": "secret-image-bytes"})
    err = info.value
    assert (err.code, err.request_id, err.action) == (code, "", "GetGroupList")
    text = str(err) + repr(err)
    for secret in (SECRET_KEY, TOKEN, "secret-image-bytes"):
        assert secret not in text
    assert err.__cause__ is None and err.__suppress_context__


def test_parse_reply_keeps_nested_data() -> None:
    raw = json.dumps(
        {"Response": {"Results": [{"Candidates": [{"PersonId": "p", "Score": 99}]}], "RequestId": "x"}}
    ).encode()
    reply = parse_reply("SearchFaces", 200, raw)
    assert reply.data == {"Results": [{"Candidates": [{"PersonId": "p", "Score": 99}]}]}
    assert reply.request_id == "x"


# --- a real local server: what actually goes over the wire --------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def wire_server() -> AsyncIterator[tuple[TestServer, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(
            {"raw_headers": request.raw_headers, "body": body, "method": request.method, "path": request.raw_path}
        )
        if request.headers.get("X-TC-Action") == "Slow":
            await asyncio.sleep(2)
        return web.json_response({"Response": {"Echo": len(body), "RequestId": f"req-{len(seen)}"}})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, seen
    await server.close()


def verify_signature(raw_headers: tuple[tuple[bytes, bytes], ...], body: bytes, cred: Credential) -> None:
    """Re-derive the signature from what the server received, with our signer functions."""
    headers = {name.decode().lower(): value.decode() for name, value in raw_headers}
    match = re.fullmatch(
        r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d\d-\d\d)/iai/tc3_request, "
        r"SignedHeaders=content-type;host, Signature=([0-9a-f]{64})",
        headers["authorization"],
    )
    assert match is not None, headers["authorization"]
    timestamp = int(headers["x-tc-timestamp"])
    assert match.group(1) == cred.secret_id
    assert match.group(2) == signer.utc_date(timestamp)
    canonical = signer.canonical_request(
        method="POST",
        uri="/",
        query="",
        headers=headers,
        signed_headers=signer.DEFAULT_SIGNED_HEADERS,
        payload_sha256=hashlib.sha256(body).hexdigest(),
    )
    expected = signer.signature(secret_key=cred.secret_key, timestamp=timestamp, service="iai", canonical=canonical)
    assert match.group(3) == expected


async def test_wire_bytes_headers_and_signature(
    session: aiohttp.ClientSession, wire_server: tuple[TestServer, list[dict[str, Any]]]
) -> None:
    server, seen = wire_server
    url = f"http://127.0.0.1:{server.port}"
    client = make_client(session, url=url, cred=TEMP_CRED)
    params = {"PersonName": '张三 😀 "q"', "Image": "A" * 1_300_000, "GroupIds": ["g#1", "g@2"]}
    reply = await client.call("CreatePerson", params)
    (got,) = seen
    assert got["method"] == "POST" and got["path"] == "/"
    assert json.loads(got["body"]) == params
    assert reply.data == {"Echo": len(got["body"])}
    assert reply.request_id == "req-1"

    names = [name.decode() for name, _ in got["raw_headers"]]
    headers = {name.decode().lower(): value.decode() for name, value in got["raw_headers"]}
    assert len(names) == len({n.lower() for n in names}), names  # no header sent twice
    assert headers["content-type"] == CONTENT_TYPE  # exactly as signed: no charset appended
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["content-length"] == str(len(got["body"]))
    assert headers["x-tc-action"] == "CreatePerson"
    assert headers["x-tc-version"] == "2020-03-03"
    assert headers["x-tc-region"] == "ap-guangzhou"
    assert headers["x-tc-timestamp"] == "1700000000"
    assert headers["x-tc-token"] == TOKEN
    verify_signature(got["raw_headers"], got["body"], TEMP_CRED)


async def test_wire_binary_images_go_out_as_base64_in_one_signed_body(
    session: aiohttp.ClientSession, wire_server: tuple[TestServer, list[dict[str, Any]]]
) -> None:
    """Binary parameters are written chunk by chunk (never joined); the server sees one valid, signed JSON body."""
    server, seen = wire_server
    client = make_client(session, url=f"http://127.0.0.1:{server.port}")
    image_a, image_b = os.urandom(1_000_001), os.urandom(700_000)
    faces = [os.urandom(5), memoryview(os.urandom(300_000))]
    await client.call("CompareFace", {"ImageA": image_a, "Tag": "ü", "ImageB": bytearray(image_b), "Images": faces})
    (got,) = seen
    assert json.loads(got["body"]) == {
        "ImageA": base64.b64encode(image_a).decode(),
        "Tag": "ü",
        "ImageB": base64.b64encode(image_b).decode(),
        "Images": [base64.b64encode(bytes(f)).decode() for f in faces],
    }
    headers = {name.decode().lower(): value.decode() for name, value in got["raw_headers"]}
    assert headers["content-length"] == str(len(got["body"]))
    verify_signature(got["raw_headers"], got["body"], CRED)


async def test_wire_reuses_one_pooled_connection(
    session: aiohttp.ClientSession, wire_server: tuple[TestServer, list[dict[str, Any]]]
) -> None:
    server, seen = wire_server
    client = make_client(session, url=f"http://127.0.0.1:{server.port}")
    ports = set()
    for i in range(5):
        await client.call("GetGroupList", {"Offset": i})
    for transport_owner in session.connector._conns.values():  # type: ignore[union-attr]
        ports.add(len(transport_owner))
    assert len(seen) == 5
    assert ports == {1}  # one idle keep-alive connection served all five calls


async def test_real_read_timeout(
    session: aiohttp.ClientSession, wire_server: tuple[TestServer, list[dict[str, Any]]]
) -> None:
    server, _ = wire_server
    client = make_client(session, url=f"http://127.0.0.1:{server.port}", read_timeout=0.2)
    with pytest.raises(V3Error) as info:
        await client.call("Slow", {})
    assert info.value.code == UPSTREAM_TIMEOUT


async def test_real_connection_refused(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(session, url=f"http://127.0.0.1:{port}")
    with pytest.raises(V3Error) as info:
        await client.call("GetGroupList", {})
    assert info.value.code == UPSTREAM_UNREACHABLE
