"""The whole product on loopback: emulator + proxy in a background loop, the real legacy SDK as client."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from qcloud_image import Client
from qcloud_image.conf import Conf

from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY, Stack, start_stack
from proxy.emulator.synthetic import blank_image, gif_photo, subject_photo
from proxy.settings import Settings, parse_settings

T = TypeVar("T")

TENANT_A = ("1250000001", "AKIDtenantA", "secret-of-tenant-a")
TENANT_B = ("1250000002", "AKIDtenantB", "secret-of-tenant-b")
BUCKET = "legacy"


class LoopThread:
    """An event loop in a daemon thread; the synchronous legacy SDK calls into it over loopback."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout=60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@dataclass
class World:
    stack: Stack
    photos: Path
    image_host: str  # http://127.0.0.1:PORT serving `photos`
    loop: LoopThread

    def client(self, tenant: tuple[str, str, str] = TENANT_A, bucket: str = BUCKET) -> Client:
        appid, secret_id, secret_key = tenant
        return Client(appid, secret_id, secret_key, bucket)

    def photo(self, subject: int, photo: int) -> Path:
        return self.photos / f"subject{subject}_photo{photo}.jpg"

    def url(self, name: str) -> str:
        return f"{self.image_host}/{name}"

    def on_loop(self, fn: Callable[[], Awaitable[T]]) -> T:
        return self.loop.run(fn())


def _settings(store_url: str) -> Callable[[str], Settings]:
    def build(upstream: str) -> Settings:
        return parse_settings(
            {
                "listen": {"host": "127.0.0.1", "port": 0},
                "upstream": {"endpoint": upstream, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
                "tenants": [
                    {"appid": appid, "legacy_keys": [{"secret_id": sid, "secret_key": key}]}
                    for appid, sid, key in (TENANT_A, TENANT_B)
                ],
                "store": {"url": store_url},
                "limits": {"max_body_bytes": 2 * 1024 * 1024},
                "logging": {"format": "json", "level": "warning"},
            }
        )

    return build


async def _image_host(photos: Path) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_static("/", photos)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("e2e")
    photos = root / "photos"
    photos.mkdir()
    for subject in range(6):
        for photo in range(8):
            (photos / f"subject{subject}_photo{photo}.jpg").write_bytes(subject_photo(subject, photo))
    (photos / "blank.jpg").write_bytes(blank_image())
    (photos / "anim.gif").write_bytes(gif_photo())
    loop = LoopThread()
    stack = loop.run(
        start_stack(store_url=f"sqlite:///{root / 'meta.db'}", settings_for=_settings(f"sqlite:///{root / 'meta.db'}"))
    )
    host_runner, image_host = loop.run(_image_host(photos))
    original = Conf._Conf__SERVICE_ADDR
    # the one edit a legacy app makes: its v1 host now points at the proxy
    Conf._Conf__SERVICE_ADDR = stack.proxy_url.removeprefix("http://")
    try:
        yield World(stack=stack, photos=photos, image_host=image_host, loop=loop)
    finally:
        Conf._Conf__SERVICE_ADDR = original
        loop.run(host_runner.cleanup())
        loop.run(stack.close())
        loop.stop()


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    """The data of a successful v1 reply, failing with the whole reply otherwise."""
    assert reply.get("code") == 0, reply
    assert reply.get("httpcode") == 200, reply
    data = reply["data"]
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="session", autouse=True)
def _quiet_logs() -> None:
    from proxy import logs

    logs.configure("json", "warning")
