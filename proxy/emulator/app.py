"""The emulator's app factory, and helpers to start it on a port (in this loop or a background thread)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from proxy.emulator import persistence
from proxy.emulator.facemodel import FaceModel
from proxy.emulator.routes import EMULATOR, add_routes
from proxy.emulator.runtime import Emulator, EmulatorConfig

__all__ = [
    "EMULATOR",
    "EmulatorConfig",
    "RunningEmulator",
    "ThreadedEmulator",
    "create_emulator_app",
    "start_emulator",
]
log = logging.getLogger(__name__)


def create_emulator_app(config: EmulatorConfig, *, model: FaceModel | None = None) -> web.Application:
    """A fresh emulator (its own state) as an aiohttp app; `app[EMULATOR]` reaches its parts."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    emulator = Emulator(config, model)
    app[EMULATOR] = emulator
    add_routes(app)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    emulator = app[EMULATOR]
    path = emulator.config.state_file
    if path is not None and persistence.load(emulator.state, path):
        log.info("emulator state loaded from %s", path)
    saver: asyncio.Task[None] | None = None
    if path is not None and emulator.config.save_interval_s > 0:
        saver = asyncio.create_task(_save_periodically(emulator, emulator.config.save_interval_s))
    yield
    if saver is not None:
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saver
    if path is not None:
        persistence.save(emulator.state, path)
    await emulator.close()


async def _save_periodically(emulator: Emulator, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        if emulator.config.state_file is not None:
            persistence.save(emulator.state, emulator.config.state_file)


@dataclass
class RunningEmulator:
    """An emulator listening on a port of this event loop."""

    app: web.Application
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        """host:port, as the SDK's HttpProfile(endpoint=...) wants it."""
        return f"{self.host}:{self.port}"

    @property
    def emulator(self) -> Emulator:
        return self.app[EMULATOR]

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_emulator(
    config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0, *, model: FaceModel | None = None
) -> RunningEmulator:
    """Start an emulator in the running loop; port 0 picks a free one (see `.port`)."""
    app = create_emulator_app(config, model=model)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1]) if runner.addresses else port
    return RunningEmulator(app, runner, host, bound)


class ThreadedEmulator:
    """An emulator in a background thread with its own loop, for synchronous callers (the official SDK).

    with ThreadedEmulator(config) as emu: ... emu.endpoint ... emu.emulator.state ...
    """

    def __init__(
        self,
        config: EmulatorConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        model: FaceModel | None = None,
    ) -> None:
        self._config, self._host, self._port, self._model = config, host, port, model
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="v3-emulator", daemon=True)
        self._running: RunningEmulator | None = None

    def start(self) -> ThreadedEmulator:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            start_emulator(self._config, self._host, self._port, model=self._model), self._loop
        )
        self._running = future.result(timeout=30)
        return self

    @property
    def running(self) -> RunningEmulator:
        if self._running is None:
            raise RuntimeError("the emulator is not started")
        return self._running

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def endpoint(self) -> str:
        return self.running.endpoint

    @property
    def emulator(self) -> Emulator:
        return self.running.emulator

    def call(self, fn: object) -> None:
        """Run a plain function on the emulator's loop thread (to touch state safely)."""
        if not callable(fn):
            raise TypeError("fn must be callable")
        done = threading.Event()

        def _run() -> None:
            try:
                fn()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(_run)
        done.wait(10)

    def stop(self) -> None:
        if self._running is not None:
            asyncio.run_coroutine_threadsafe(self._running.close(), self._loop).result(timeout=30)
            self._running = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> ThreadedEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
