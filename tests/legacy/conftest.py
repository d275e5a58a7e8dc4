"""Fixtures: the legacy v1 service in a background thread, the unmodified legacy SDK pointed at it, a photo host."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from qcloud_image import Client
from qcloud_image.conf import Conf

from proxy.emulator.synthetic import blank_image, gif_photo, subject_photo
from proxy.legacy.app import LegacyApp, LegacyConfig, ThreadedLegacy

APP_A = LegacyApp("1250000001", "AKIDlegacyA", "legacy-key-a")
APP_B = LegacyApp("1250000002", "AKIDlegacyB", "legacy-key-b")
APP_A2 = LegacyApp("1250000001", "AKIDlegacyA2", "legacy-key-a2")  # a second key of app A
BUCKET = "legacy"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class LegacyWorld:
    service: ThreadedLegacy
    photos: Path
    image_host: str

    def client(self, app: LegacyApp = APP_A, bucket: str = BUCKET, secret_key: str | None = None) -> Client:
        return Client(app.appid, app.secret_id, secret_key or app.secret_key, bucket)

    def photo(self, subject: int, photo: int) -> Path:
        return self.photos / f"subject{subject}_photo{photo}.jpg"

    def url(self, name: str) -> str:
        return f"{self.image_host}/{name}"


@pytest.fixture(scope="session")
def legacy_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LegacyWorld]:
    photos = tmp_path_factory.mktemp("legacy-photos")
    for subject in range(4):
        for photo in range(6):
            (photos / f"subject{subject}_photo{photo}.jpg").write_bytes(subject_photo(subject, photo))
    (photos / "blank.jpg").write_bytes(blank_image())
    (photos / "anim.gif").write_bytes(gif_photo())
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(photos)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = LegacyConfig(apps=(APP_A, APP_B, APP_A2), seed=7)
    original = Conf._Conf__SERVICE_ADDR
    with ThreadedLegacy(config) as service:
        # the one edit a legacy app makes: its v1 host now points at this address
        Conf._Conf__SERVICE_ADDR = service.address
        try:
            yield LegacyWorld(service, photos, f"http://127.0.0.1:{server.server_address[1]}")
        finally:
            Conf._Conf__SERVICE_ADDR = original
            server.shutdown()


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    """The data of a successful v1 reply, failing with the whole reply otherwise."""
    assert reply.get("code") == 0 and reply.get("message") == "OK", reply
    assert reply.get("httpcode") == 200, reply
    data = reply["data"]
    assert isinstance(data, dict)
    return data


def fails(reply: dict[str, Any], code: int, httpcode: int = 200) -> dict[str, Any]:
    """The data of a v1 error reply with exactly ``code`` and ``httpcode``."""
    assert reply.get("code") == code, reply
    assert reply.get("httpcode") == httpcode, reply
    assert isinstance(reply.get("message"), str) and reply["message"], reply
    data = reply["data"]
    assert isinstance(data, dict)
    return data


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
