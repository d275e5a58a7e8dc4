"""X-TC-Region and X-TC-Token as v3 checks them, through the official v3 SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.iai.v20200303 import iai_client

from proxy.emulator.app import EmulatorConfig, ThreadedEmulator
from tests.emulator.conftest import req

PERMANENT = ("AKIDpermanent", "permanent-key")
TEMPORARY = ("AKIDtemporary", "temporary-key")
TOKEN = "sts-token-issued-with-AKIDtemporary"


@pytest.fixture(scope="module")
def emulator() -> Iterator[ThreadedEmulator]:
    config = EmulatorConfig(credentials=(PERMANENT, TEMPORARY), tokens=((TEMPORARY[0], TOKEN),))
    with ThreadedEmulator(config) as emu:
        yield emu


def client(
    emu: ThreadedEmulator, key: tuple[str, str], *, region: str = "ap-guangzhou", token: str | None = None
) -> Any:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=emu.endpoint, reqTimeout=10))
    profile.disable_region_breaker = True
    return iai_client.IaiClient(credential.Credential(key[0], key[1], token), region, profile)


def group_list(sdk: Any) -> str:
    """ "ok", or the v3 error code the SDK raised."""
    try:
        sdk.GetGroupList(req("GetGroupList"))
    except TencentCloudSDKException as exc:
        return str(exc.get_code())
    return "ok"


def test_a_region_iai_is_not_offered_in_is_unsupported_region(emulator: ThreadedEmulator) -> None:
    assert group_list(client(emulator, PERMANENT, region="ap-beijing")) == "ok"
    assert group_list(client(emulator, PERMANENT, region="")) == "ok"  # Region is optional for IAI
    assert group_list(client(emulator, PERMANENT, region="xx-nowhere")) == "UnsupportedRegion"


def test_a_temporary_key_needs_the_token_issued_with_it(emulator: ThreadedEmulator) -> None:
    assert group_list(client(emulator, TEMPORARY, token=TOKEN)) == "ok"
    assert group_list(client(emulator, TEMPORARY, token="expired-token")) == "AuthFailure.TokenFailure"
    assert group_list(client(emulator, TEMPORARY)) == "AuthFailure.TokenFailure"
    assert group_list(client(emulator, PERMANENT, token=TOKEN)) == "AuthFailure.TokenFailure"
    assert group_list(client(emulator, PERMANENT)) == "ok"


def test_tokens_only_for_known_secret_ids() -> None:
    with pytest.raises(ValueError, match="AKIDnobody"):
        EmulatorConfig(credentials=(PERMANENT,), tokens=(("AKIDnobody", TOKEN),))
