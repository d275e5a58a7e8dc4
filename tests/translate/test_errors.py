"""The v3 → v1 error map: complete against the SDK and the common codes, valid v1 codes, overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tencentcloud.iai.v20200303 import errorcodes

from proxy.config import shipped_error_map
from proxy.translate.errors import V1_ERROR_CODES, ErrorMap, ErrorMapError, V1Code

COMMON_CODES = frozenset(
    [
        "AuthFailure.InvalidAuthorization",
        "AuthFailure.InvalidSecretId",
        "AuthFailure.MFAFailure",
        "AuthFailure.SecretIdNotFound",
        "AuthFailure.SignatureExpire",
        "AuthFailure.SignatureFailure",
        "AuthFailure.TokenFailure",
        "AuthFailure.UnauthorizedOperation",
        "DryRunOperation",
        "FailedOperation",
        "InternalError",
        "InvalidAction",
        "InvalidParameter",
        "InvalidParameterValue",
        "InvalidRequest",
        "IpInBlacklist",
        "IpNotInWhitelist",
        "LimitExceeded",
        "MissingParameter",
        "NoSuchProduct",
        "NoSuchVersion",
        "RequestLimitExceeded",
        "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
        "RequestLimitExceeded.IPLimitExceeded",
        "RequestLimitExceeded.UinLimitExceeded",
        "RequestSizeLimitExceeded",
        "ResourceInUse",
        "ResourceInsufficient",
        "ResourceNotFound",
        "ResourceUnavailable",
        "ResponseSizeLimitExceeded",
        "ServiceUnavailable",
        "UnauthorizedOperation",
        "UnknownParameter",
        "UnsupportedOperation",
        "UnsupportedProtocol",
        "UnsupportedRegion",
    ]
)
PROXY_CODES = frozenset({"ProxyUpstream.Timeout", "ProxyUpstream.Unreachable", "ProxyUpstream.BadResponse"})

# The v1 code table of seed 002_ §3, plus -1313 (000_/003_).
V1_TABLE_002 = frozenset(
    {3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 21, 23, 107, 108, 213}
    | {-1101, -1102, -1103, -1104, -1105, -1106, -1107, -1108, -1109, -1200}
    | set(range(-1312, -1299))
    | {-1313, -1400, -1403}
)
SEED_002 = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "002_854b21f1b8199d5d.txt"


def sdk_codes() -> frozenset[str]:
    return frozenset(value for name, value in vars(errorcodes).items() if name.isupper() and isinstance(value, str))


@pytest.fixture(scope="module")
def error_map() -> ErrorMap:
    return shipped_error_map()


def test_sdk_codes_are_read() -> None:
    assert len(sdk_codes()) >= 98
    assert "InvalidParameterValue.PersonIdNotExist" in sdk_codes()


def test_every_sdk_code_is_mapped(error_map: ErrorMap) -> None:
    missing = sorted(sdk_codes() - error_map.codes())
    assert not missing, f"config/v3_errors.yaml lacks these SDK error codes: {missing}"


def test_every_common_and_proxy_code_is_mapped(error_map: ErrorMap) -> None:
    missing = sorted((COMMON_CODES | PROXY_CODES) - error_map.codes())
    assert not missing, f"config/v3_errors.yaml lacks: {missing}"


def test_every_entry_is_deliberate_and_uses_the_v1_table(error_map: ErrorMap) -> None:
    for code in error_map.codes():
        rule = error_map.rule(code)
        assert rule is not None
        assert rule.v1 in V1_TABLE_002, f"{code} -> {rule.v1} is not in the 002_ table"
        assert rule.why, f"{code} has no 'why'"


@pytest.mark.skipif(not SEED_002.is_file(), reason="seed 002_ not next to this checkout")
def test_v1_table_matches_seed_002() -> None:
    seed_codes = {int(m) for m in re.findall(r"^\| *(-?\d+) *\|", SEED_002.read_text(), re.M)}
    assert seed_codes | {-1313} == V1_TABLE_002
    assert seed_codes | {-1313, 24} == set(V1_ERROR_CODES)


@pytest.mark.parametrize(
    ("v3", "v1"),
    [
        ("InvalidParameterValue.PersonIdNotExist", -1303),
        ("ResourceNotFound.PersonIdNotExist", -1303),
        ("InvalidParameterValue.PersonIdAlreadyExist", -1302),
        ("InvalidParameterValue.GroupIdNotExist", -1306),
        ("ResourceNotFound.GroupIdNotExist", -1306),
        ("FailedOperation.ImageDecodeFailed", -1102),
        ("FailedOperation.ImageFacedetectFailed", -1101),
        ("InvalidParameterValue.NoFaceInPhoto", -1101),
        ("FailedOperation.ImageDownloadError", -1308),
        ("InvalidParameterValue.PersonFaceNumExceed", -1309),
        ("RequestLimitExceeded", 15),
        ("RequestLimitExceeded.UinLimitExceeded", 15),
        ("FailedOperation.CreateFaceConcurrent", 15),
        ("AuthFailure.SignatureFailure", 107),
        ("AuthFailure.SignatureExpire", 108),
        ("RequestSizeLimitExceeded", 23),
        ("InvalidParameterValue.PersonIdTooLong", -1304),
        ("InternalError", 213),
        ("ProxyUpstream.Timeout", 213),
        ("ResourceUnavailable.InArrears", 3),
    ],
)
def test_key_mappings(error_map: ErrorMap, v3: str, v1: int) -> None:
    assert error_map.to_v1(v3, "whatever").code == v1


def test_messages(error_map: ErrorMap) -> None:
    assert error_map.to_v1("InvalidParameterValue.PersonIdNotExist", "x") == V1Code(-1303, "person does not exist")
    assert error_map.to_v1("ResourceUnavailable.InArrears") == V1Code(3, "account abnormal,errorno is:2")


def test_unknown_code_falls_back_to_213_naming_the_code(error_map: ErrorMap) -> None:
    assert error_map.to_v1("FailedOperation.BrandNew", "it broke") == V1Code(
        213, "v3 FailedOperation.BrandNew: it broke"
    )
    assert error_map.to_v1("Weird") == V1Code(213, "v3 Weird")


def test_overrides(error_map: ErrorMap) -> None:
    custom = error_map.merged(
        {
            "RequestLimitExceeded": 213,
            "Brand.New": {"v1": -1301, "message": "custom"},
            "InternalError": {"v1": 15},
        }
    )
    assert custom.to_v1("RequestLimitExceeded") == V1Code(213, "internal error")
    assert custom.to_v1("Brand.New") == V1Code(-1301, "custom")
    assert custom.to_v1("InternalError").code == 15
    assert "Brand.New" in custom.codes()
    assert error_map.to_v1("RequestLimitExceeded").code == 15  # the original is untouched
    assert custom.to_v1("InvalidParameterValue.PersonIdNotExist").code == -1303


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"RequestLimitExceeded": 999}, "errors.overrides.RequestLimitExceeded: unknown v1 code 999"),
        (
            {"RequestLimitExceeded": "15"},
            "errors.overrides.RequestLimitExceeded: expected a v1 code or a mapping",
        ),
        (
            {"RequestLimitExceeded": True},
            "errors.overrides.RequestLimitExceeded: expected a v1 code or a mapping",
        ),
        ({"X": {"code": 15}}, r"errors.overrides.X: unknown key\(s\) code"),
        ({"X": {"message": "m"}}, "errors.overrides.X.v1: missing"),
        ({"X": {"v1": 15, "message": 3}}, "errors.overrides.X.message: expected a string"),
    ],
)
def test_bad_overrides_are_refused_clearly(error_map: ErrorMap, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ErrorMapError, match=message):
        error_map.merged(overrides)  # type: ignore[arg-type]


GOOD = "version: 1\nfallback: {code: 213}\ncodes:\n  A.B: {v1: -1303, why: w}\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("codes: [", "error map is not valid YAML"),
        ("- 1\n", "expected a mapping at the top level, got list"),
        (GOOD.replace("version: 1", "version: 2"), "version: expected 1, got 2"),
        (
            GOOD.replace("-1303", "-9999"),
            r"codes.A.B.v1: unknown v1 code -9999 \(not in the v1 error code table\)",
        ),
        (GOOD.replace("{code: 213}", "{code: 7}"), "fallback.code: unknown v1 code 7"),
        (GOOD.replace("why: w", "wy: w"), r"codes.A.B: unknown key\(s\) wy"),
        (GOOD + "  A.B: {v1: 15}\n", "duplicate key 'A.B' at line 5"),
        (GOOD + "extra: 1\n", r"error map: unknown key\(s\) extra"),
        ("version: 1\ncodes: {}\n", "codes: expected a non-empty mapping"),
    ],
)
def test_invalid_files_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(ErrorMapError, match=message):
        ErrorMap.from_yaml(text)


def test_minimal_file_parses() -> None:
    em = ErrorMap.from_yaml(GOOD)
    assert em.codes() == frozenset({"A.B"})
    assert em.to_v1("A.B") == V1Code(-1303, "person does not exist")


def test_shipped_file_is_package_data_and_config_links_to_it() -> None:
    root = Path(__file__).resolve().parents[2]
    shipped = root / "proxy" / "data" / "v3_errors.yaml"
    assert (root / "config" / "v3_errors.yaml").resolve() == shipped
    assert shipped.read_text(encoding="utf-8").lstrip().startswith("#")
