"""TC3 signing checked against Tencent's golden vector and, byte for byte, against the official SDK."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import types
from typing import Any

import pytest
from tencentcloud.common import abstract_client as sdk_abstract
from tencentcloud.common import credential as sdk_credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.iai.v20200303.iai_client import IaiClient

from proxy.v3 import signer
from proxy.v3.body import encode_body
from proxy.v3.client import V3Client, V3Endpoint
from proxy.v3.credentials import static_credentials
from proxy.v3.signer import Credential

# Tencent "Signature v3" documentation, worked example.
DOC_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
DOC_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_TS = 1551113065
DOC_PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
DOC_CT = "application/json; charset=utf-8"
DOC_CANONICAL_HASH = "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def test_golden_vector_canonical_request_and_signature() -> None:
    canonical = signer.canonical_request(
        method="POST",
        uri="/",
        query="",
        headers={"content-type": DOC_CT, "host": "cvm.tencentcloudapi.com"},
        signed_headers=signer.DEFAULT_SIGNED_HEADERS,
        payload_sha256=hashlib.sha256(DOC_PAYLOAD).hexdigest(),
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == DOC_CANONICAL_HASH
    to_sign = signer.string_to_sign(timestamp=DOC_TS, service="cvm", canonical=canonical)
    assert to_sign == (f"TC3-HMAC-SHA256\n{DOC_TS}\n2019-02-25/cvm/tc3_request\n{DOC_CANONICAL_HASH}")
    sig = signer.signature(secret_key=DOC_KEY, timestamp=DOC_TS, service="cvm", canonical=canonical)
    assert sig == DOC_SIGNATURE


def test_golden_vector_authorization_header() -> None:
    header = signer.authorization(
        credential=Credential(DOC_ID, DOC_KEY),
        service="cvm",
        host="cvm.tencentcloudapi.com",
        content_type=DOC_CT,
        payload=DOC_PAYLOAD,
        timestamp=DOC_TS,
    )
    assert header == (
        f"TC3-HMAC-SHA256 Credential={DOC_ID}/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={DOC_SIGNATURE}"
    )


def test_credential_repr_hides_secrets() -> None:
    text = repr(Credential("AKIDpublic", "very-secret-key", "very-secret-token"))
    assert "AKIDpublic" in text
    assert "very-secret" not in text


def test_sdk_sign_tc3_matches_signing_key() -> None:
    """Our key derivation against the SDK's own Sign.sign_tc3 on an arbitrary string."""
    to_sign = "TC3-HMAC-SHA256\n1700000000\n2023-11-14/iai/tc3_request\n" + "ab" * 32
    ours = signer.signing_key("sekrit", "2023-11-14", "iai")
    import hmac

    assert hmac.new(ours, to_sign.encode(), hashlib.sha256).hexdigest() == Sign.sign_tc3(
        "sekrit", "2023-11-14", "iai", to_sign
    )


FIVE_MB_IMAGE = base64.b64encode(os.urandom(3_750_000)).decode("ascii")  # 5,000,000 characters

BODIES: dict[str, dict[str, Any]] = {
    "empty": {},
    "unicode": {
        "PersonName": '张三😀 "quoted" \\ back/slash',
        "PersonId": "t1.a%40b#c@d",
        "Tag": "🙂\u2028\u0000x",
        "FaceModelVersion": "3.0",
    },
    "nested": {"GroupIds": ["g1", "g2"], "MaxPersonNum": 5, "NeedPersonInfo": 1, "FaceMatchThreshold": 61.5},
    "five_mb_image": {"GroupIds": ["g1"], "Image": FIVE_MB_IMAGE, "MaxFaceNum": 1},
}


def sdk_authorization(
    *, action: str, body: bytes, host: str, region: str, timestamp: int, cred: Credential, monkeypatch: Any
) -> dict[str, str]:
    """Run the SDK's own TC3 request builder on our exact body bytes at a fixed timestamp."""
    text = body.decode("utf-8")
    # The SDK serialises with json.dumps; make it produce exactly our bytes (as str, it re-encodes UTF-8).
    monkeypatch.setattr(sdk_abstract, "json", types.SimpleNamespace(dumps=lambda _params: text))
    monkeypatch.setattr(sdk_abstract.time, "time", lambda: float(timestamp))
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=host))
    sdk_cred = sdk_credential.Credential(cred.secret_id, cred.secret_key, cred.token)
    client = IaiClient(sdk_cred, region, profile)
    req = RequestInternal(host, "POST", "/", header={})
    client._build_req_with_tc3_signature(action, {"ignored": True}, req)
    monkeypatch.undo()
    assert req.data == text
    return dict(req.header)


@pytest.mark.parametrize("name", sorted(BODIES))
@pytest.mark.parametrize(
    "cred",
    [Credential("AKIDexample", "secret+/=key"), Credential("AKIDtemp", "k2", token="tok-123")],
    ids=["permanent", "temporary"],
)
def test_client_headers_match_official_sdk(name: str, cred: Credential, monkeypatch: Any) -> None:
    timestamp = 1_700_000_123
    endpoint = V3Endpoint(url="https://iai.tencentcloudapi.com", region="ap-guangzhou")
    # build_request never touches the session: the SDK comparison needs no network.
    session: Any = None
    client = V3Client(endpoint, static_credentials(cred), session, clock=lambda: timestamp + 0.9)
    built, headers = client.build_request("SearchFaces", BODIES[name])
    assert built == encode_body(BODIES[name])
    body = bytes(built)
    assert json.loads(body) == BODIES[name]

    sdk = sdk_authorization(
        action="SearchFaces",
        body=body,
        host=endpoint.host,
        region=endpoint.region,
        timestamp=timestamp,
        cred=cred,
        monkeypatch=monkeypatch,
    )
    assert headers["Authorization"] == sdk["Authorization"]
    for key in ("Content-Type", "Host", "X-TC-Action", "X-TC-Version", "X-TC-Timestamp", "X-TC-Region"):
        assert headers[key] == sdk[key], key
    assert headers.get("X-TC-Token") == sdk.get("X-TC-Token")


def test_sdk_default_json_bytes_sign_identically(monkeypatch: Any) -> None:
    """The SDK's own serialisation (ensure_ascii, spaced) signed by our signer gives the SDK's header."""
    params = BODIES["unicode"]
    sdk_text = json.dumps(params)
    cred = Credential("AKIDexample", "secret")
    ours = signer.authorization(
        credential=cred,
        service="iai",
        host="iai.tencentcloudapi.com",
        content_type="application/json",
        payload=sdk_text.encode(),
        timestamp=1_600_000_000,
    )
    sdk = sdk_authorization(
        action="CreatePerson",
        body=sdk_text.encode(),
        host="iai.tencentcloudapi.com",
        region="ap-beijing",
        timestamp=1_600_000_000,
        cred=cred,
        monkeypatch=monkeypatch,
    )
    assert ours == sdk["Authorization"]


def test_signature_depends_on_every_input() -> None:
    base: dict[str, Any] = {
        "credential": Credential("AKID", "key"),
        "service": "iai",
        "host": "iai.tencentcloudapi.com",
        "content_type": "application/json",
        "payload": b"{}",
        "timestamp": 1_700_000_000,
    }
    reference = signer.authorization(**base)
    variants: list[dict[str, Any]] = [
        {"credential": Credential("AKID", "key2")},
        {"service": "cvm"},
        {"host": "127.0.0.1:9000"},
        {"content_type": "application/json; charset=utf-8"},
        {"payload": b"{ }"},
        {"timestamp": 1_700_000_001},
    ]
    for change in variants:
        assert signer.authorization(**{**base, **change}) != reference, change
