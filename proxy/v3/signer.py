"""TC3-HMAC-SHA256 signing for v3 requests: pure functions, timestamp passed in."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

ALGORITHM = "TC3-HMAC-SHA256"
DEFAULT_SIGNED_HEADERS: tuple[str, ...] = ("content-type", "host")
_DEFAULT_SIGNED = ";".join(DEFAULT_SIGNED_HEADERS)


@dataclass(frozen=True, slots=True)
class Credential:
    """A v3 SecretId/SecretKey pair, with the token of temporary credentials."""

    secret_id: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never print the key
        token = "***" if self.token else None
        return f"Credential(secret_id={self.secret_id!r}, secret_key=***, token={token})"


def utc_date(timestamp: int) -> str:
    """The credential-scope date (UTC) of a timestamp, as YYYY-MM-DD."""
    return _day(timestamp // 86_400)


@lru_cache(maxsize=4)
def _day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


def canonical_request(
    *,
    method: str,
    uri: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_sha256: str,
) -> str:
    """The canonical request; `headers` maps lower-case names to values as sent."""
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed_headers)
    return "\n".join((method, uri, query, canonical_headers, ";".join(signed_headers), payload_sha256))


def string_to_sign(*, timestamp: int, service: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    scope = f"{utc_date(timestamp)}/{service}/tc3_request"
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


@lru_cache(maxsize=16)  # one key per credential and day: three HMACs saved on every call
def signing_key(secret_key: str, date: str, service: str) -> bytes:
    k_date = hmac.digest(("TC3" + secret_key).encode("utf-8"), date.encode("utf-8"), "sha256")
    k_service = hmac.digest(k_date, service.encode("utf-8"), "sha256")
    return hmac.digest(k_service, b"tc3_request", "sha256")


def signature(*, secret_key: str, timestamp: int, service: str, canonical: str) -> str:
    key = signing_key(secret_key, utc_date(timestamp), service)
    to_sign = string_to_sign(timestamp=timestamp, service=service, canonical=canonical)
    return hmac.digest(key, to_sign.encode("utf-8"), "sha256").hex()  # one-shot (C), not the hmac.HMAC object


def authorization(
    *,
    credential: Credential,
    service: str,
    host: str,
    content_type: str,
    timestamp: int,
    payload: bytes = b"",
    payload_sha256: str | None = None,
) -> str:
    """The `Authorization` header for a POST / with the given exact body bytes.

    `payload_sha256` (hex) replaces `payload` when the caller hashed the body while building it.
    """
    digest = payload_sha256 or hashlib.sha256(payload).hexdigest()
    # canonical_request, string_to_sign and signature written out for the one shape sent (every call signs)
    canonical = (
        f"POST\n/\n\ncontent-type:{content_type.strip().lower()}\nhost:{host.strip().lower()}\n\n"
        f"{_DEFAULT_SIGNED}\n{digest}"
    )
    date = utc_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    sig = hmac.digest(signing_key(credential.secret_key, date, service), to_sign.encode("utf-8"), "sha256").hex()
    return f"{ALGORITHM} Credential={credential.secret_id}/{scope}, SignedHeaders={_DEFAULT_SIGNED}, Signature={sig}"
