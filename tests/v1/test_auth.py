"""v1 signature verification: every code 4-14, the real legacy SDK's signatures, the replay step."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from qcloud_image.auth import Auth

from proxy.limits.replay import LocalReplayGuard, ReplayStoreUnavailable
from proxy.v1.auth import Keyring, LegacyKey, SignatureClaims, check_single_use, sign, verify
from proxy.v1.errors import V1Error

APPID = "1250000000"
OTHER_APPID = "1250000001"
KEY = LegacyKey(appid=APPID, secret_id="AKIDlegacy", secret_key="legacy-secret")
OTHER_KEY = LegacyKey(appid=OTHER_APPID, secret_id="AKIDother", secret_key="other-secret")
NOW = 1_700_000_000.0
MAX_VALIDITY = 90 * 86400.0


def keyring() -> Keyring:
    return Keyring([KEY, OTHER_KEY], appids=[APPID, OTHER_APPID, "1250000002"])


def plain(**fields: str) -> str:
    base = {
        "a": APPID,
        "b": "bucket",
        "k": KEY.secret_id,
        "e": str(int(NOW) + 30),
        "t": str(int(NOW)),
        "r": "42",
    }
    base.update(fields)
    base.setdefault("f", "")
    return "&".join(f"{k}={v}" for k, v in base.items())


def check(
    authorization: str | None,
    *,
    appid: str = APPID,
    bucket: str | None = "bucket",
    now: float = NOW,
    max_validity_s: float = MAX_VALIDITY,
) -> SignatureClaims:
    return verify(
        authorization,
        appid=appid,
        bucket=bucket,
        keyring=keyring(),
        now=now,
        max_validity_s=max_validity_s,
    )


def code_of(authorization: str | None, **kwargs: object) -> int:
    with pytest.raises(V1Error) as info:
        check(authorization, **kwargs)  # type: ignore[arg-type]
    return info.value.code


def test_real_legacy_sdk_signature_verifies() -> None:
    signature = Auth(APPID, KEY.secret_id, KEY.secret_key).get_sign("bucket")
    claims = verify(
        signature.decode("ascii"),
        appid=APPID,
        bucket="bucket",
        keyring=keyring(),
        now=time.time(),
        max_validity_s=MAX_VALIDITY,
    )
    assert claims.appid == APPID
    assert claims.bucket == "bucket"
    assert claims.secret_id == KEY.secret_id
    assert claims.expires - claims.issued == 30
    assert claims.fileid == ""
    assert not claims.single_use


def test_our_signer_matches_the_sdk_layout() -> None:
    text = plain()
    raw = base64.b64decode(sign(KEY, text))
    assert raw[:20] == hmac.new(b"legacy-secret", text.encode(), hashlib.sha1).digest()
    assert raw[20:] == text.encode()


def test_field_order_missing_bucket_user_and_decimal_times() -> None:
    text = f"r=7&t={NOW}&e={NOW + 60.5}&k={KEY.secret_id}&a={APPID}&u=alice"
    claims = check(sign(KEY, text), bucket=None)
    assert claims.bucket is None
    assert claims.user == "alice"
    assert claims.expires == NOW + 60.5
    assert claims.rand == "7"


def test_bucket_compared_only_when_both_present() -> None:
    assert check(sign(KEY, plain()), bucket=None).bucket == "bucket"
    assert check(sign(KEY, plain(b="")), bucket="bucket").bucket is None


@pytest.mark.parametrize("authorization", [None, "", "   "])
def test_4_empty(authorization: str | None) -> None:
    assert code_of(authorization) == 4


@pytest.mark.parametrize(
    "authorization",
    [
        "not base64 !!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"x" * 20 + b"\xff\xfe").decode(),  # plain not UTF-8
        base64.b64encode(b"x" * 20 + b"garbage").decode(),  # no fields
        sign(KEY, "a=1&k=2&e=3&t=4"),  # r missing
        sign(KEY, plain(e="soon")),
        sign(KEY, plain(t="-5")),
        sign(KEY, plain(e="nan")),
        sign(KEY, plain() + "&a=again"),
        "A" * 5000,
    ],
)
def test_5_malformed(authorization: str) -> None:
    assert code_of(authorization) == 5


def test_6_appid_mismatch() -> None:
    assert code_of(sign(KEY, plain()), appid=OTHER_APPID) == 6


def test_6_bucket_mismatch() -> None:
    assert code_of(sign(KEY, plain()), bucket="another") == 6


def test_9_expired() -> None:
    assert code_of(sign(KEY, plain(e=str(int(NOW) - 1)))) == 9


def test_9_validity_longer_than_allowed() -> None:
    long_lived = plain(e=str(int(NOW) + 100 * 86400))
    assert code_of(sign(KEY, long_lived)) == 9
    assert code_of(sign(KEY, plain(e=str(int(NOW) + 120))), max_validity_s=60) == 9
    # a future t does not stretch the window
    future = plain(t=str(int(NOW) + 80 * 86400), e=str(int(NOW) + 85 * 86400))
    assert code_of(sign(KEY, future), max_validity_s=10 * 86400) == 9


def test_10_unknown_appid() -> None:
    stranger = LegacyKey(appid="999", secret_id="AKIDx", secret_key="x")
    assert code_of(sign(stranger, plain(a="999", k="AKIDx")), appid="999") == 10


def test_11_unknown_secret_id() -> None:
    assert code_of(sign(KEY, plain(k="AKIDnobody"))) == 11


def test_12_secret_id_of_another_appid() -> None:
    # appid 1250000002 is served but OTHER_KEY belongs to 1250000001
    text = plain(a="1250000002", k=OTHER_KEY.secret_id)
    assert code_of(sign(OTHER_KEY, text), appid="1250000002") == 12


def test_14_hmac_mismatch() -> None:
    forged = LegacyKey(appid=APPID, secret_id=KEY.secret_id, secret_key="wrong")
    assert code_of(sign(forged, plain())) == 14


def test_14_before_expiry_so_forgeries_learn_nothing() -> None:
    forged = LegacyKey(appid=APPID, secret_id=KEY.secret_id, secret_key="wrong")
    assert code_of(sign(forged, plain(e=str(int(NOW) - 100)))) == 14


async def authenticate(authorization: str, guard: LocalReplayGuard, now: float = NOW) -> SignatureClaims:
    claims = check(authorization, now=now)
    if claims.single_use:
        await check_single_use(claims, guard, window_s=300, now=now)
    return claims


async def replay_code(authorization: str, guard: object, now: float = NOW) -> int:
    with pytest.raises(V1Error) as info:
        claims = check(authorization, now=now)
        await check_single_use(claims, guard, window_s=300, now=now)  # type: ignore[arg-type]
    return info.value.code


async def test_13_single_use_replayed() -> None:
    guard = LocalReplayGuard()
    once = sign(KEY, plain(e="0"))
    assert (await authenticate(once, guard)).single_use
    assert await replay_code(once, guard) == 13
    assert len(guard) == 1
    # a different single-use signature is fine
    assert (await authenticate(sign(KEY, plain(e="0", r="43")), guard)).single_use


async def test_15_when_this_tenants_replay_table_is_full() -> None:
    guard = LocalReplayGuard(capacity_per_tenant=1)
    await authenticate(sign(KEY, plain(e="0")), guard)
    assert await replay_code(sign(KEY, plain(e="0", r="43")), guard) == 15


async def test_108_when_the_shared_replay_store_is_unreachable() -> None:
    class Down:
        async def remember(self, tenant: str, signature: bytes, *, until: float, now: float) -> bool:
            raise ReplayStoreUnavailable("ConnectionError")

    assert await replay_code(sign(KEY, plain(e="0")), Down()) == 108


def test_single_use_claims_carry_their_bytes_and_multi_use_do_not() -> None:
    once = sign(KEY, plain(e="0"))
    assert check(once).raw == base64.b64decode(once)
    assert check(sign(KEY, plain())).raw == b""
    assert "raw" not in repr(check(once))


def test_13_single_use_outside_window() -> None:
    stale = sign(KEY, plain(e="0", t=str(int(NOW) - 301)))
    assert code_of(stale) == 13


def test_forged_single_use_never_reaches_the_guard() -> None:
    forged = LegacyKey(appid=APPID, secret_id=KEY.secret_id, secret_key="wrong")
    assert code_of(sign(forged, plain(e="0"))) == 14


def test_secret_key_never_in_repr() -> None:
    assert "legacy-secret" not in repr(KEY)
    assert "legacy-secret" not in repr(keyring())


def test_keyring_refuses_duplicate_secret_ids() -> None:
    with pytest.raises(ValueError, match="twice"):
        Keyring([KEY, LegacyKey(appid=OTHER_APPID, secret_id=KEY.secret_id, secret_key="z")])


def test_keyring_knows_key_appids() -> None:
    ring = Keyring([KEY])
    assert ring.knows_appid(APPID)
    assert not ring.knows_appid(OTHER_APPID)
    assert ring.key(KEY.secret_id) == KEY


def test_a_reused_signature_is_remembered_but_still_checked_against_each_request() -> None:
    ring = keyring()
    signature = sign(KEY, plain(e=str(int(NOW) + 60)))

    def again(**kwargs: object) -> SignatureClaims:
        args: dict[str, object] = {"appid": APPID, "bucket": "bucket", "now": NOW, **kwargs}
        return verify(signature, keyring=ring, max_validity_s=MAX_VALIDITY, **args)  # type: ignore[arg-type]

    first = again()
    assert ring.checked(signature) == first  # the HMAC is not recomputed for the next request
    assert again(now=NOW + 59) == first
    for kwargs, code in (({"appid": OTHER_APPID}, 6), ({"bucket": "other"}, 6), ({"now": NOW + 61}, 9)):
        with pytest.raises(V1Error) as info:
            again(**kwargs)
        assert info.value.code == code, kwargs
    # a reload builds a new keyring: a key removed there refuses the remembered signature
    with pytest.raises(V1Error) as info:
        verify(
            signature,
            appid=APPID,
            bucket="bucket",
            keyring=Keyring([OTHER_KEY], appids=[APPID]),
            now=NOW,
            max_validity_s=MAX_VALIDITY,
        )
    assert info.value.code == 11


def test_forged_and_single_use_signatures_are_never_remembered() -> None:
    ring = keyring()
    forged = base64.b64encode(b"\0" * 20 + plain().encode()).decode()
    with pytest.raises(V1Error):
        verify(
            forged,
            appid=APPID,
            bucket="bucket",
            keyring=ring,
            now=NOW,
            max_validity_s=MAX_VALIDITY,
        )
    once = sign(KEY, plain(e="0"))
    verify(once, appid=APPID, bucket="bucket", keyring=ring, now=NOW, max_validity_s=MAX_VALIDITY)
    assert ring.checked(forged) is None and ring.checked(once) is None
