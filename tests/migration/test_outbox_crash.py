"""The outbox survives a SIGKILL of the proxy mid-burst: restart, drain, every answered write on both sides."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from qcloud_image import CIBuffer, Client
from qcloud_image.conf import Conf

from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY
from proxy.emulator.app import EmulatorConfig, ThreadedEmulator
from proxy.emulator.faults import FaultConfig
from proxy.emulator.synthetic import subject_photo
from proxy.legacy.app import LegacyApp, LegacyConfig, ThreadedLegacy
from proxy.store import open_store
from proxy.translate.scope import Scope

APP = LegacyApp("1250000021", "AKIDcrash", "key-crash")
LEGACY_SESSION = re.compile(r"[0-9a-f]{32}")
READY = re.compile(r"v1proxy listening on http://([\d.]+:\d+)")
BURST = 24
KILL_AFTER = 14


@contextmanager
def proxy_process(config: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "serve", "--config", str(config)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        match = READY.match(proc.stdout.readline())
        assert match, "the proxy did not start"
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


async def _outbox_open(store_url: str) -> int:
    store = await open_store(store_url)
    try:
        stats = await store.journal_stats("outbox", now=time.time())
        return stats.counts.get("pending", 0) + stats.counts.get("unknown", 0)
    finally:
        await store.close()


def test_outbox_survives_sigkill_mid_burst(tmp_path: Path) -> None:
    slow_v3 = EmulatorConfig(credentials=((DEMO_V3_ID, DEMO_V3_KEY),), faults=FaultConfig(latency_ms=150))
    store_url = f"sqlite:///{tmp_path / 'meta.db'}"
    with ThreadedEmulator(slow_v3) as v3, ThreadedLegacy(LegacyConfig(apps=(APP,))) as legacy:
        config = tmp_path / "proxy.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "listen": {"host": "127.0.0.1", "port": 0},
                    "admin": {"host": "127.0.0.1", "port": 0},
                    "upstream": {"endpoint": v3.url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
                    "tenants": [
                        {
                            "appid": APP.appid,
                            "legacy_keys": [{"secret_id": APP.secret_id, "secret_key": APP.secret_key}],
                        }
                    ],
                    "store": {"url": store_url},
                    "logging": {"format": "json", "level": "warning"},
                    "migration": {
                        "legacy": {"endpoint": legacy.url},
                        "tenants": {APP.appid: {"route": "shadow"}},
                        "outbox": {"retry_base_s": 0.05, "retry_max_s": 0.5, "poll_s": 0.05, "lease_s": 2},
                    },
                }
            )
        )
        answered: list[str] = []
        original = Conf._Conf__SERVICE_ADDR
        try:
            with proxy_process(config) as (proc, address):
                Conf._Conf__SERVICE_ADDR = address
                killed = threading.Event()

                def enrol(worker: int) -> None:
                    client = Client(APP.appid, APP.secret_id, APP.secret_key, "bkt")
                    for n in range(worker, BURST, 4):
                        if killed.is_set():
                            return
                        reply: dict[str, Any] = client.face_newperson(
                            f"crash-{n}", ["crash-g"], CIBuffer(subject_photo(n % 4, n % 6))
                        )
                        if reply.get("code") == 0:
                            answered.append(f"crash-{n}")
                            if len(answered) >= KILL_AFTER and not killed.is_set():
                                killed.set()
                                proc.send_signal(signal.SIGKILL)

                workers = [threading.Thread(target=enrol, args=(w,)) for w in range(4)]
                for w in workers:
                    w.start()
                for w in workers:
                    w.join(timeout=60)
                proc.wait(timeout=30)
                assert proc.returncode == -signal.SIGKILL
            assert len(answered) >= KILL_AFTER
            # the kill left writes owed to v3, durable in the store
            assert asyncio.run(_outbox_open(store_url)) > 0
            assert len(v3.emulator.state.persons) < len(answered)
            with proxy_process(config) as (proc, address):
                deadline = time.monotonic() + 60
                while asyncio.run(_outbox_open(store_url)) and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert asyncio.run(_outbox_open(store_url)) == 0
                # SIGHUP moves the tenant to v3 in the running process: v3 now answers the same people
                Conf._Conf__SERVICE_ADDR = address
                client = Client(APP.appid, APP.secret_id, APP.secret_key, "bkt")
                assert LEGACY_SESSION.fullmatch(client.face_getinfo(answered[0])["data"]["session_id"])
                settings = yaml.safe_load(config.read_text())
                settings["migration"]["tenants"][APP.appid]["route"] = "v3"
                config.write_text(yaml.safe_dump(settings))
                proc.send_signal(signal.SIGHUP)
                for _ in range(100):
                    reply = client.face_getinfo(answered[0])
                    if not LEGACY_SESSION.fullmatch(reply["data"]["session_id"]):
                        break
                    time.sleep(0.05)
                assert reply["code"] == 0 and reply["data"]["person_id"] == answered[0]
                assert not LEGACY_SESSION.fullmatch(reply["data"]["session_id"])  # answered by v3
        finally:
            Conf._Conf__SERVICE_ADDR = original
        scope = Scope.of(APP.appid, "bkt")
        account = legacy.legacy.state.account(APP.appid)
        for person_id in answered:
            assert person_id in account.persons, person_id  # v1 answered it
            assert scope.v3_id(person_id) in v3.emulator.state.persons, person_id  # and v3 got it after all
