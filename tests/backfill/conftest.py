"""Backfill against the real parts: the emulator in a background loop, `v1proxy backfill` as a real process,
the proxy serving the legacy SDK afterwards from the same store."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import yaml
from aiohttp import web

from proxy.app import create_app
from proxy.emulator.app import EmulatorConfig, RunningEmulator, start_emulator
from proxy.emulator.faults import FaultConfig
from proxy.emulator.synthetic import subject_photo
from proxy.settings import load_settings

T = TypeVar("T")
V3_ID, V3_KEY = "AKIDbackfillV3", "backfill-v3-secret"
APPID, BUCKET = "1250000077", "archive"
LEGACY_ID, LEGACY_KEY = "AKIDbackfillLegacy", "backfill-legacy-secret"
OTHER_APPID = "1250000078"
COLUMNS = ["appid", "bucket", "person_id", "group_ids", "person_name", "tag", "image", "face_tag"]
V1PROXY = str(Path(sys.executable).with_name("v1proxy"))
SUBJECTS, PHOTOS = 10, 5


class LoopThread:
    """An event loop in a daemon thread, for the emulator and the proxy."""

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


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    for subject in range(SUBJECTS):
        for photo in range(PHOTOS):
            (root / f"s{subject}_p{photo}.jpg").write_bytes(subject_photo(subject, photo))
    return root


@dataclass
class Bench:
    """One emulator, a config pointing at it, a store file, and helpers to run the command."""

    loop: LoopThread
    emulator: RunningEmulator
    root: Path
    photos: Path

    @property
    def store(self) -> Path:
        return self.root / "meta.db"

    def config(self, *, capture: bool = False, name: str = "config.yaml", **sections: Any) -> Path:
        path = self.root / name
        upstream = {"endpoint": self.emulator.url, "secret_id": V3_ID, "secret_key": V3_KEY}
        upstream |= sections.pop("upstream", {})
        path.write_text(
            yaml.safe_dump(
                sections
                | {
                    "listen": {"host": "127.0.0.1", "port": 0, "event_loop": "asyncio"},
                    "admin": {"port": 0},
                    "upstream": upstream,
                    "tenants": [
                        {"appid": APPID, "legacy_keys": [{"secret_id": LEGACY_ID, "secret_key": LEGACY_KEY}]},
                        {"appid": OTHER_APPID, "legacy_keys": [{"secret_id": "AKIDother", "secret_key": "other"}]},
                    ],
                    "store": {"url": f"sqlite:///{self.store}"},
                    "faces": {"capture_attributes": capture},
                    "logging": {"format": "json", "level": "warning"},
                }
            )
        )
        return path

    def manifest(self, rows: Sequence[dict[str, str]], name: str = "manifest.csv") -> Path:
        path = self.root / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
        return path

    def args(self, manifest: Path, *extra: str, config: Path | None = None) -> list[str]:
        return [V1PROXY, "backfill", "--config", str(config or self.config()), "--manifest", str(manifest), *extra]

    def run(
        self, manifest: Path, *extra: str, config: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args(manifest, *extra, config=config),
            capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False,
        )  # fmt: skip

    def spawn(self, manifest: Path, *extra: str, config: Path | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.args(manifest, *extra, config=config),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.root,
        )  # fmt: skip

    def faults(self, **settings: Any) -> None:
        reply = requests.post(f"{self.emulator.url}/_emulator/faults", json=settings, timeout=10)
        assert reply.status_code == 200, reply.text

    def v3_faces(self) -> dict[str, int]:
        """Every person v3 holds and how many faces each has (read from the emulator's state)."""

        async def read() -> dict[str, int]:
            return {pid: len(p.faces) for pid, p in self.emulator.emulator.state.persons.items()}

        return self.loop.run(read())

    def serve_proxy(self) -> tuple[web.AppRunner, str]:
        """The proxy on the same config and store, for the legacy SDK."""
        settings = load_settings(self.config())

        async def start() -> tuple[web.AppRunner, str]:
            runner = web.AppRunner(create_app(settings), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            return runner, f"{host}:{port}"

        return self.loop.run(start())


def row(person: str, subject: int, photo: int, *, groups: str = "staff", **fields: str) -> dict[str, str]:
    values = {
        "appid": APPID,
        "bucket": BUCKET,
        "person_id": person,
        "group_ids": groups,
        "person_name": f"Name of {person}",
        "tag": f"tag-{person}",
        "image": f"photos/s{subject}_p{photo}.jpg",
        "face_tag": "",
    }
    values.update(fields)
    return values


@pytest.fixture
def bench(loop: LoopThread, photos: Path, tmp_path: Path) -> Iterator[Bench]:
    emulator = loop.run(
        start_emulator(EmulatorConfig(credentials=((V3_ID, V3_KEY),), faults=FaultConfig()), "127.0.0.1", 0)
    )
    (tmp_path / "photos").symlink_to(photos)
    try:
        yield Bench(loop=loop, emulator=emulator, root=tmp_path, photos=photos)
    finally:
        loop.run(emulator.close())


def wait_for_report_lines(path: Path, count: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_bytes().splitlines()) >= count:
            return
        if proc.poll() is not None:
            raise AssertionError(f"backfill ended early ({proc.returncode}): {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError(f"{path}: fewer than {count} lines after {timeout} s")


def kill(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=60)
    return out, err


@pytest.fixture(scope="session", autouse=True)
def _quiet_logs() -> None:
    from proxy import logs

    logs.configure("json", "warning")
