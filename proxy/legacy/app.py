"""The legacy service's app factory, and helpers to start it on a port (in this loop or a background thread)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from proxy.emulator.facemodel import FaceModel
from proxy.legacy import persistence
from proxy.legacy.routes import LEGACY, add_routes, http_errors
from proxy.legacy.runtime import Legacy, LegacyApp, LegacyConfig

__all__ = [
    "LEGACY",
    "LegacyApp",
    "LegacyConfig",
    "RunningLegacy",
    "ThreadedLegacy",
    "create_legacy_app",
    "start_legacy",
]
log = logging.getLogger(__name__)


def create_legacy_app(config: LegacyConfig, *, model: FaceModel | None = None) -> web.Application:
    """A fresh legacy service (its own state) as an aiohttp app; ``app[LEGACY]`` reaches its parts."""
    app = web.Application(client_max_size=config.max_body_bytes + 64 * 1024, middlewares=[http_errors])
    app[LEGACY] = Legacy(config, model)
    add_routes(app)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    legacy = app[LEGACY]
    path = legacy.config.state_file
    if path is not None and persistence.load(legacy.state, path):
        log.info("legacy state loaded from %s", path)
    yield
    if path is not None:
        persistence.save(legacy.state, path)
    await legacy.close()


@dataclass
class RunningLegacy:
    """A legacy service listening on a port of this event loop."""

    app: web.Application
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """host:port, what a legacy app's service address becomes (``Conf._Conf__SERVICE_ADDR``)."""
        return f"{self.host}:{self.port}"

    @property
    def legacy(self) -> Legacy:
        return self.app[LEGACY]

    def save(self) -> None:
        """Write --state now (also done at shutdown)."""
        path = self.legacy.config.state_file
        if path is not None:
            persistence.save(self.legacy.state, path)

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_legacy(
    config: LegacyConfig, host: str = "127.0.0.1", port: int = 0, *, model: FaceModel | None = None
) -> RunningLegacy:
    """Start a legacy service in the running loop; port 0 picks a free one (see ``.port``)."""
    app = create_legacy_app(config, model=model)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    return RunningLegacy(app, runner, host, bound)


class ThreadedLegacy:
    """A legacy service in a background thread with its own loop, for synchronous callers (the legacy SDK)."""

    def __init__(
        self, config: LegacyConfig, host: str = "127.0.0.1", port: int = 0, *, model: FaceModel | None = None
    ) -> None:
        self._config, self._host, self._port, self._model = config, host, port, model
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="legacy-v1", daemon=True)
        self._running: RunningLegacy | None = None

    def start(self) -> ThreadedLegacy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            start_legacy(self._config, self._host, self._port, model=self._model), self._loop
        )
        self._running = future.result(timeout=30)
        return self

    @property
    def running(self) -> RunningLegacy:
        if self._running is None:
            raise RuntimeError("the legacy service is not started")
        return self._running

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def address(self) -> str:
        return self.running.address

    @property
    def legacy(self) -> Legacy:
        return self.running.legacy

    def stop(self) -> None:
        if self._running is not None:
            asyncio.run_coroutine_threadsafe(self._running.close(), self._loop).result(timeout=30)
            self._running = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ThreadedLegacy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
