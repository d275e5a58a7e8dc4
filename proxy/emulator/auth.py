"""Checks an incoming TC3-HMAC-SHA256 `Authorization` header as Tencent does, with proxy.v3.signer."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from functools import lru_cache

from proxy.emulator.exceptions import EmulatorError
from proxy.v3 import signer

MAX_CLOCK_SKEW_S = 300
SERVICE = "iai"
_UNSIGNED = "UNSIGNED-PAYLOAD"


def _invalid(message: str) -> EmulatorError:
    return EmulatorError("AuthFailure.InvalidAuthorization", message)


@lru_cache(maxsize=256)
def _signing_key(secret_key: str, date: str, service: str) -> bytes:
    return signer.signing_key(secret_key, date, service)


def _parse(header: str) -> tuple[str, str, str, str, list[str], str]:
    """(secret_id, date, service, terminator, signed_headers, signature) from the header."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != signer.ALGORITHM:
        raise _invalid("The Authorization header must use TC3-HMAC-SHA256.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise _invalid("The Authorization header is malformed.")
        fields[key] = value
    try:
        credential, signed, sig = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError:
        raise _invalid("The Authorization header lacks Credential, SignedHeaders or Signature.") from None
    scope = credential.split("/")
    if len(scope) != 4 or not scope[0] or not sig or not signed:
        raise _invalid("The Authorization header's Credential is malformed.")
    return scope[0], scope[1], scope[2], scope[3], signed.split(";"), sig


def verify(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Mapping[str, str],
    now: int,
) -> str:
    """The SecretId that signed this request; raises the v3 AuthFailure.* error otherwise.

    `headers` is case-insensitive (aiohttp's CIMultiDictProxy); `body` the exact bytes received.
    """
    header = headers.get("Authorization")
    if not header:
        raise EmulatorError("AuthFailure.SignatureFailure", "The request is not signed (no Authorization).")
    secret_id, date, service, terminator, signed_headers, received = _parse(header)
    secret_key = credentials.get(secret_id)
    if secret_key is None:
        raise EmulatorError("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    raw_ts = headers.get("X-TC-Timestamp")
    if raw_ts is None:
        raise EmulatorError("MissingParameter", "The request is missing the header X-TC-Timestamp.")
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise EmulatorError("InvalidParameter", "X-TC-Timestamp must be an integer.") from None
    if abs(now - timestamp) > MAX_CLOCK_SKEW_S:
        raise EmulatorError(
            "AuthFailure.SignatureExpire",
            "The signature expired: X-TC-Timestamp is more than 300 s from the server time.",
        )
    lowered = [name.strip().lower() for name in signed_headers]
    if "content-type" not in lowered or "host" not in lowered:
        raise _invalid("SignedHeaders must include content-type and host.")
    received_headers: dict[str, str] = {}
    for name in lowered:
        value = headers.get(name)
        if value is None:
            raise _invalid(f"The signed header {name} is missing.")
        received_headers[name] = value
    if headers.get("X-TC-Content-SHA256") == _UNSIGNED:
        payload_sha256 = hashlib.sha256(_UNSIGNED.encode()).hexdigest()
    else:
        payload_sha256 = hashlib.sha256(body).hexdigest()
    canonical = signer.canonical_request(
        method=method,
        uri=path,
        query=query,
        headers=received_headers,
        signed_headers=lowered,
        payload_sha256=payload_sha256,
    )
    expected = ""
    if terminator == "tc3_request" and service == SERVICE and date == signer.utc_date(timestamp):
        key = _signing_key(secret_key, date, service)
        to_sign = signer.string_to_sign(timestamp=timestamp, service=service, canonical=canonical)
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not expected or not hmac.compare_digest(expected, received):
        raise EmulatorError("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
    return secret_id


def check_token(secret_id: str, token: str | None, issued: Mapping[str, str]) -> None:
    """A temporary SecretId's call carries the token issued with it; a token is never valid for another key.

    Raises AuthFailure.TokenFailure (v3's answer to a missing, wrong or expired STS token)."""
    expected = issued.get(secret_id)
    if expected is None and not token:
        return
    if expected is None or token is None or not hmac.compare_digest(expected.encode(), token.encode()):
        raise EmulatorError("AuthFailure.TokenFailure", "The token is invalid or expired.")


def check_region(region: str | None, regions: frozenset[str]) -> None:
    """X-TC-Region is optional for IAI; a region it is not offered in is answered UnsupportedRegion."""
    if region is not None and region not in regions:
        raise EmulatorError("UnsupportedRegion", f"The API does not support the region `{region}`.")
