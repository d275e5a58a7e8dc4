"""A staged-migration world on loopback: the v3 emulator, the legacy v1 service and the proxy between them,
a YAML file the proxy reloads between steps, and the unmodified legacy SDK as the app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from qcloud_image import Client
from qcloud_image.conf import Conf

from proxy import logs
from proxy.app import MIGRATION, RUNTIME, create_app
from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY
from proxy.emulator.app import EmulatorConfig, RunningEmulator, start_emulator
from proxy.legacy.app import LegacyApp, LegacyConfig, RunningLegacy, start_legacy
from proxy.lifecycle import reload_config
from proxy.migration.engine import ShadowPair
from proxy.settings import load_settings
from tests.e2e.conftest import LoopThread

BUCKET = "legacy"


@dataclass(frozen=True)
class App:
    """One legacy app (a tenant): its appid and v1 key, known to both the legacy service and the proxy."""

    appid: str
    secret_id: str
    secret_key: str

    def client(self) -> Client:
        return Client(self.appid, self.secret_id, self.secret_key, BUCKET)


@dataclass
class StagedWorld:
    loop: LoopThread
    v3: RunningEmulator
    legacy: RunningLegacy
    proxy: web.AppRunner
    proxy_address: str
    config_path: Path
    config: dict[str, Any]
    shadow_pairs: list[ShadowPair] = field(default_factory=list)

    @property
    def app(self) -> web.Application:
        return self.proxy.app

    def route(self, app: App, route: str, *, ops: dict[str, str] | None = None, retire_v1: bool = False) -> None:
        """Write the tenant's route into the YAML and reload it into the running proxy (no restart)."""
        tenants = self.config["migration"].setdefault("tenants", {})
        tenants[app.appid] = {"route": route, "ops": ops or {}, "retire_v1": retire_v1}
        self.config_path.write_text(yaml.safe_dump(self.config))
        outcome = self.loop.run(_reload(self.app, str(self.config_path)))
        assert outcome.applied, outcome.problems

    def reload(self) -> None:
        """Write `config` as it is now and reload it into the running proxy."""
        self.config_path.write_text(yaml.safe_dump(self.config))
        outcome = self.loop.run(_reload(self.app, str(self.config_path)))
        assert outcome.applied, outcome.problems

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until the outbox holds no open entry."""
        deadline = time.monotonic() + timeout_s
        while True:
            stats = self.loop.run(self._stats())
            if not stats.counts.get("pending", 0) and not stats.counts.get("unknown", 0):
                return
            assert time.monotonic() < deadline, f"outbox not drained: {stats}"
            time.sleep(0.05)

    async def _stats(self) -> Any:
        store = self.app[RUNTIME].current.services.store
        return await store.journal_stats("outbox", now=time.time())

    def outbox_failures(self) -> int:
        return int(self.loop.run(self._stats()).counts.get("failed", 0))

    def legacy_person(self, app: App, person_id: str) -> Any:
        return self.legacy.legacy.state.account(app.appid).persons.get(person_id)

    def v3_person_count(self) -> int:
        return len(self.v3.emulator.state.persons)


async def _reload(app: web.Application, path: str) -> Any:
    return reload_config(app, path)


async def _start(
    tmp: Path, apps: tuple[App, ...], store_url: str | None = None
) -> tuple[RunningEmulator, RunningLegacy, web.AppRunner, dict[str, Any]]:
    v3 = await start_emulator(EmulatorConfig(credentials=((DEMO_V3_ID, DEMO_V3_KEY),)))
    legacy = await start_legacy(LegacyConfig(apps=tuple(LegacyApp(a.appid, a.secret_id, a.secret_key) for a in apps)))
    config: dict[str, Any] = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "admin": {"port": 0},
        "upstream": {"endpoint": v3.url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
        "tenants": [
            {"appid": a.appid, "legacy_keys": [{"secret_id": a.secret_id, "secret_key": a.secret_key}]} for a in apps
        ],
        "store": {"url": store_url or f"sqlite:///{tmp / 'meta.db'}"},
        "logging": {"format": "json", "level": "warning"},
        "migration": {
            "legacy": {"endpoint": legacy.url, "read_timeout": 30},
            "default_route": "v1",
            "tenants": {},
            "outbox": {"retry_base_s": 0.05, "retry_max_s": 0.5, "poll_s": 0.05},
        },
    }
    path = tmp / "proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    runner = web.AppRunner(create_app(load_settings(str(path))), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return v3, legacy, runner, config


def staged_world(tmp: Path, apps: tuple[App, ...], store_url: str | None = None) -> Iterator[StagedWorld]:
    """The world on loopback; the proxy's store is a SQLite file in ``tmp`` unless ``store_url`` names another."""
    logs.configure("json", "warning")
    loop = LoopThread()
    v3, legacy, runner, config = loop.run(_start(tmp, apps, store_url))
    host, port = runner.addresses[0][:2]
    world = StagedWorld(loop, v3, legacy, runner, f"{host}:{port}", tmp / "proxy.yaml", config)

    async def observe(pair: ShadowPair) -> None:
        world.shadow_pairs.append(pair)

    runner.app[MIGRATION].add_observer(observe)
    original = Conf._Conf__SERVICE_ADDR
    Conf._Conf__SERVICE_ADDR = world.proxy_address
    try:
        yield world
    finally:
        Conf._Conf__SERVICE_ADDR = original
        loop.run(runner.cleanup())
        loop.run(legacy.close())
        loop.run(v3.close())
        loop.run(asyncio.sleep(0))
        loop.stop()
