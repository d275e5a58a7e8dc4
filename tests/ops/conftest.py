"""Real processes: `v1proxy emulator` and `v1proxy serve --config FILE`, the legacy SDK as client."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from qcloud_image import Client
from qcloud_image.conf import Conf

from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY

TENANT_A = ("1250000001", "AKIDopsTenantA", "secret-of-ops-tenant-a")
TENANT_B = ("1250000002", "AKIDopsTenantB", "secret-of-ops-tenant-b")
BUCKET = "ops"
V1PROXY = [sys.executable, "-m", "proxy"]


@dataclass
class Proc:
    """A child process with its stdout lines and stderr captured to a file."""

    popen: subprocess.Popen[str]
    stderr_path: Path
    lines: list[str] = field(default_factory=list)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        assert self.popen.stdout is not None
        while time.monotonic() < deadline:
            for line in self.lines:
                found = regex.search(line)
                if found:
                    return found
            line = self.popen.stdout.readline()
            if not line:
                if self.popen.poll() is not None:
                    break
                time.sleep(0.05)
                continue
            self.lines.append(line.rstrip("\n"))
        raise AssertionError(f"no {pattern!r} in {self.lines}; stderr: {self.stderr()[-3000:]}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
            raise


def spawn(args: list[str], stderr_path: Path) -> Proc:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    stderr = stderr_path.open("w", encoding="utf-8")
    popen = subprocess.Popen(
        [*V1PROXY, *args], stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=Path.cwd()
    )
    stderr.close()
    return Proc(popen, stderr_path)


def config(
    emulator_url: str, store: Path, tenants: tuple[tuple[str, str, str], ...] = (TENANT_A,), **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "admin": {"host": "127.0.0.1", "port": 0},
        "upstream": {"endpoint": emulator_url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
        "tenants": [{"appid": a, "legacy_keys": [{"secret_id": i, "secret_key": k}]} for a, i, k in tenants],
        "store": {"url": f"sqlite:///{store}"},
        "logging": {"format": "json", "level": "info"},
    }
    data.update(extra)
    return data


def write_config(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


@dataclass
class Proxy:
    proc: Proc
    url: str  # http(s)://127.0.0.1:PORT
    admin_url: str

    @property
    def address(self) -> str:
        return self.url.split("://", 1)[1]


def start_proxy(config_path: Path, stderr_path: Path, *extra_args: str) -> Proxy:
    proc = spawn(["serve", "--config", str(config_path), *extra_args], stderr_path)
    url = proc.wait_for(r"v1proxy listening on (https?://\S+)").group(1)
    admin = proc.wait_for(r"admin listening on (http://\S+)").group(1)
    return Proxy(proc, url, admin)


def _emulator(tmp_path: Path, latency_ms: int) -> Iterator[str]:
    proc = spawn(
        [
            "emulator",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--secret-id",
            DEMO_V3_ID,
            "--secret-key",
            DEMO_V3_KEY,
        ],
        tmp_path / "emulator.log",
    )
    try:
        yield proc.wait_for(r"emulator listening on (http://\S+)").group(1)
    finally:
        proc.stop()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[str]:
    """A slow emulator process (800 ms per v3 call): requests stay in flight long enough to signal."""
    yield from _emulator(tmp_path, 800)


@pytest.fixture
def fast_emulator(tmp_path: Path) -> Iterator[str]:
    yield from _emulator(tmp_path, 0)


@pytest.fixture
def legacy_host() -> Iterator[None]:
    """Restores the legacy SDK's v1 host after a test repointed it."""
    original = Conf._Conf__SERVICE_ADDR
    yield
    Conf._Conf__SERVICE_ADDR = original


def legacy_client(proxy: Proxy, tenant: tuple[str, str, str] = TENANT_A) -> Client:
    # the one edit a legacy app makes: its v1 host now points at the proxy
    Conf._Conf__SERVICE_ADDR = proxy.address
    appid, secret_id, secret_key = tenant
    return Client(appid, secret_id, secret_key, BUCKET)
