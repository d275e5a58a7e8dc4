"""Fixtures: an emulator in a background thread, and official-SDK clients pointed at it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import pytest
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.iai.v20200303 import iai_client, models

from proxy.emulator.app import EmulatorConfig, ThreadedEmulator
from proxy.emulator.synthetic import subject_photo

SECRET_ID = "AKIDtest"
SECRET_KEY = "test-secret-key"


@pytest.fixture(scope="module")
def emulator() -> Iterator[ThreadedEmulator]:
    with ThreadedEmulator(EmulatorConfig(credentials=((SECRET_ID, SECRET_KEY), ("AKIDother", "k2")))) as emu:
        yield emu


def make_client(endpoint: str, secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY) -> Any:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint, reqTimeout=30))
    return iai_client.IaiClient(credential.Credential(secret_id, secret_key), "ap-guangzhou", profile)


@pytest.fixture
def client(emulator: ThreadedEmulator) -> Any:
    emulator.call(emulator.emulator.reset)
    return make_client(emulator.endpoint)


@lru_cache(maxsize=64)
def photo_b64(subject: int, photo: int) -> str:
    return base64.b64encode(subject_photo(subject, photo)).decode("ascii")


def req(cls_name: str, **fields: Any) -> Any:
    """An SDK request model filled from keyword fields (dicts/lists go through _deserialize)."""
    request = getattr(models, cls_name + "Request")()
    request._deserialize(fields)
    return request
