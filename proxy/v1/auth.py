"""v1 request signatures: legacy keys, the keyring, the replay guard and `verify` (codes 4-14).

A v1 "multi-use signature" is ``base64( HMAC-SHA1(SecretKey, plain) || plain )`` where ``plain``
is ``a=<appid>&b=<bucket>&k=<SecretId>&e=<expire>&t=<now>&r=<rand>[&u=<user>]&f=<fileid>``.
``e=0`` makes it single-use. Field order is not significant, ``b``/``u``/``f`` may be missing,
``e``/``t`` may carry a decimal fraction.

Checks run in this order, so that only authentic signatures can learn about expiry or feed the
replay guard: empty (4) -> decodable and well formed (5) -> the signature's appid configured (10)
-> SecretId known (11) -> SecretId belongs to that appid (12) -> HMAC (14, constant time) ->
expiry and validity window (9) -> single-use freshness (13). All of these use the header
only (`verify_header`), so the proxy refuses them before reading a byte of the body. A single-use
signature then goes to the replay guard, `check_single_use` (proxy.limits.replay: in this process,
or in Redis for the fleet): seen before -> 13; this tenant's in-process table full -> 15; the
shared store unreachable -> 108 "authentication service unavailable" (fail closed: a single-use
signature that cannot be checked is refused rather than risk a replay; 108, not 13, because the
signature is fine and a retry later succeeds, and not 15, which tells an app to slow down when
nothing it does causes this). The body's appid/bucket are then matched to the signature's (6,
`check_target`).

A multi-use signature whose claimed lifetime (``e - t``, or ``e - now`` when ``t`` lies in the
future) exceeds ``max_validity_s`` is refused with 9, not 5: it is well formed and authentic,
only longer-lived than policy allows, and "expired" points the developer at the right fix
(sign with a shorter ``howlong``) where "malformed" would send them debugging the encoding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from proxy.limits.replay import ReplayGuard, ReplayGuardFull, ReplayStoreUnavailable
from proxy.v1.errors import V1Error

DIGEST_SIZE = 20  # SHA-1
CLOCK_SKEW_S = 300.0  # how far in the future a client's clock may run
MAX_SIGNATURE_CHARS = 4096
MAX_CHECKED_SIGNATURES = 4096  # verified multi-use signatures a keyring remembers
_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
_REQUIRED = ("a", "k", "e", "t", "r")


@dataclass(frozen=True, slots=True)
class LegacyKey:
    """One v1 SecretId/SecretKey pair an app of ``appid`` signs with."""

    appid: str
    secret_id: str
    secret_key: str = field(repr=False)

    def __repr__(self) -> str:  # never print the key
        return f"LegacyKey(appid={self.appid!r}, secret_id={self.secret_id!r}, secret_key=***)"


class Keyring:
    """The configured legacy keys by SecretId, and the appids this proxy serves (immutable), with the
    multi-use signatures already verified against these keys (a bounded memo; a reload makes a new keyring)."""

    __slots__ = ("_appids", "_by_secret_id", "_checked")

    def __init__(self, keys: Iterable[LegacyKey], appids: Iterable[str] = ()) -> None:
        by_id: dict[str, LegacyKey] = {}
        for key in keys:
            if key.secret_id in by_id:
                raise ValueError(f"legacy SecretId {key.secret_id!r} is configured twice")
            by_id[key.secret_id] = key
        self._by_secret_id: Mapping[str, LegacyKey] = MappingProxyType(by_id)
        self._appids = frozenset(appids) | {key.appid for key in by_id.values()}
        # multi-use signatures whose HMAC one of these keys checked: an app reuses one for many requests
        self._checked: dict[str, SignatureClaims] = {}

    def key(self, secret_id: str) -> LegacyKey | None:
        return self._by_secret_id.get(secret_id)

    def knows_appid(self, appid: str) -> bool:
        return appid in self._appids

    def checked(self, signature: str) -> SignatureClaims | None:
        """The claims of a multi-use signature already verified with these keys, if remembered."""
        return self._checked.get(signature)

    def remember_checked(self, signature: str, claims: SignatureClaims) -> None:
        if len(self._checked) >= MAX_CHECKED_SIGNATURES:
            self._checked.clear()  # bounded; the next requests simply verify again
        self._checked[signature] = claims

    @property
    def appids(self) -> frozenset[str]:
        return self._appids

    def __len__(self) -> int:
        return len(self._by_secret_id)

    def __repr__(self) -> str:
        return f"Keyring(appids={sorted(self._appids)!r}, secret_ids={sorted(self._by_secret_id)!r})"


@dataclass(frozen=True, slots=True)
class SignatureClaims:
    """What a verified signature says."""

    appid: str
    bucket: str | None
    secret_id: str
    expires: float  # 0 for a single-use signature
    issued: float
    rand: str
    user: str | None
    fileid: str
    raw: bytes = field(default=b"", repr=False, compare=False)  # a single-use signature's bytes (replay key)

    @property
    def single_use(self) -> bool:
        return self.expires == 0


def _malformed(why: str) -> V1Error:
    return V1Error(5, f"signature is malformed: {why}")


def _decode(authorization: str) -> tuple[bytes, bytes, dict[str, str]]:
    """Split a signature into (raw bytes, HMAC digest, fields of plain); raises code 5."""
    if len(authorization) > MAX_SIGNATURE_CHARS:
        raise _malformed("too long")
    try:
        raw = base64.b64decode(authorization.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _malformed("not base64") from None
    if len(raw) <= DIGEST_SIZE:
        raise _malformed("too short")
    digest, plain_bytes = raw[:DIGEST_SIZE], raw[DIGEST_SIZE:]
    try:
        plain = plain_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("plain text is not UTF-8") from None
    fields: dict[str, str] = {}
    for item in plain.split("&"):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _malformed("a field is not name=value")
        if name in fields:
            raise _malformed(f"field {name!r} repeated")
        fields[name] = value
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise _malformed(f"missing field(s) {', '.join(missing)}")
    return raw, digest, fields


def _number(fields: Mapping[str, str], name: str) -> float:
    value = fields[name]
    if not _NUMBER.fullmatch(value):
        raise _malformed(f"field {name!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise _malformed(f"field {name!r} is not a number")
    return number


def sign(key: LegacyKey, plain: str) -> str:
    """A v1 signature of ``plain`` with ``key`` (what the legacy SDK's Auth.get_sign produces)."""
    body = plain.encode("utf-8")
    mac = hmac.new(key.secret_key.encode("utf-8"), body, hashlib.sha1).digest()
    return base64.b64encode(mac + body).decode("ascii")


def _check_hmac(text: str, *, keyring: Keyring) -> tuple[SignatureClaims, bytes]:
    """Decode a signature, match it to a configured key, check its HMAC; codes 5, 10-12, 14.

    Uses only the header (the appid it claims), never the body. Returns the claims and the
    signature's decoded bytes (what the replay guard keys on)."""
    raw, digest, fields = _decode(text)
    expires = _number(fields, "e")
    claims = SignatureClaims(
        appid=fields["a"],
        bucket=fields.get("b") or None,
        secret_id=fields["k"],
        expires=expires,
        issued=_number(fields, "t"),
        rand=fields["r"],
        user=fields.get("u") or None,
        fileid=fields.get("f", ""),
        raw=raw if expires == 0 else b"",
    )
    if not keyring.knows_appid(claims.appid):
        raise V1Error(10)
    key = keyring.key(claims.secret_id)
    if key is None:
        raise V1Error(11)
    if key.appid != claims.appid:
        raise V1Error(12)
    expected = hmac.digest(key.secret_key.encode("utf-8"), raw[DIGEST_SIZE:], "sha1")
    if not hmac.compare_digest(expected, digest):
        raise V1Error(14)
    return claims, raw


def verify_header(
    authorization: str | None,
    *,
    keyring: Keyring,
    now: float | None = None,
    max_validity_s: float,
    single_use_window_s: float = 300,
    clock_skew_s: float = CLOCK_SKEW_S,
) -> SignatureClaims:
    """Everything the ``Authorization`` header alone proves (codes 4, 5, 9-14), before any body is read.

    A single-use signature must then pass `check_single_use` (the replay guard); the appid/bucket of
    the body are checked against the claims with `check_target` (6)."""
    now = time.time() if now is None else now
    text = (authorization or "").strip()
    if not text:
        raise V1Error(4)
    claims = keyring.checked(text)
    if claims is None:
        claims, _raw = _check_hmac(text, keyring=keyring)
        if claims.single_use:
            if abs(now - claims.issued) > single_use_window_s:
                raise V1Error(13, "single-use signature is outside its replay window")
            return claims
        keyring.remember_checked(text, claims)
    expires, issued = claims.expires, claims.issued
    if expires < now:
        raise V1Error(9)
    if expires - issued > max_validity_s or expires - now > max_validity_s + clock_skew_s:
        raise V1Error(9, "signature validity exceeds the allowed maximum")
    return claims


async def check_single_use(claims: SignatureClaims, replay: ReplayGuard, *, window_s: float, now: float) -> None:
    """Record a verified single-use signature with the replay guard; V1Error 13 (replayed), 15 or 108."""
    try:
        fresh = await replay.remember(claims.appid, claims.raw, until=claims.issued + window_s, now=now)
    except ReplayGuardFull:
        raise V1Error(15, "too many single-use signatures of this appid in the replay window") from None
    except ReplayStoreUnavailable:
        raise V1Error(
            108, "authentication service unavailable: single-use signatures cannot be checked now; retry later"
        ) from None
    if not fresh:
        raise V1Error(13)


def check_target(claims: SignatureClaims, *, appid: str, bucket: str | None) -> None:
    """The request's appid/bucket (from the body) are the ones the signature was made for; code 6."""
    if claims.appid != appid:
        raise V1Error(6, "the appid in the signature does not match the request's appid")
    if claims.bucket is not None and bucket is not None and claims.bucket != bucket:
        raise V1Error(6, "the bucket in the signature does not match the request's bucket")


def verify(
    authorization: str | None,
    *,
    appid: str,
    bucket: str | None,
    keyring: Keyring,
    now: float | None = None,
    max_validity_s: float,
    single_use_window_s: float = 300,
    clock_skew_s: float = CLOCK_SKEW_S,
) -> SignatureClaims:
    """Check a v1 ``Authorization`` header for a request on ``appid``/``bucket``; raise V1Error 4-14.

    A single-use signature returned here still has to pass `check_single_use` (the replay guard)."""
    claims = verify_header(
        authorization,
        keyring=keyring,
        now=now,
        max_validity_s=max_validity_s,
        single_use_window_s=single_use_window_s,
        clock_skew_s=clock_skew_s,
    )
    check_target(claims, appid=appid, bucket=bucket)
    return claims
