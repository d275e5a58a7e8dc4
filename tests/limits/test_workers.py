"""`serve --workers N`: one correct /metrics for all workers, and a worker killed with SIGKILL is replaced."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from qcloud_image.auth import Auth

from tests.limits.test_fleet import start_emulator
from tests.ops.conftest import TENANT_A, Proxy, config, start_proxy, write_config

BUCKET = "workers"


def getgroupids(proxy: Proxy) -> int:
    appid, secret_id, secret_key = TENANT_A
    response = requests.post(  # a new connection each time: the kernel spreads them over the workers
        f"{proxy.url}/face/getgroupids",
        headers={"Authorization": Auth(appid, secret_id, secret_key).get_sign(BUCKET).decode(), "Connection": "close"},
        json={"appid": appid, "bucket": BUCKET},
        timeout=30,
    )
    return int(response.json()["code"])


def served(proxy: Proxy) -> tuple[float, int]:
    """(getgroupids answered 0, as /metrics says; the pid of the worker that answered the scrape)."""
    text = requests.get(f"{proxy.admin_url}/metrics", headers={"Connection": "close"}, timeout=10).text
    pattern = (
        rf'v1proxy_requests_total\{{[^}}]*code="0"[^}}]*op="getgroupids"[^}}]*tenant="{TENANT_A[0]}"[^}}]*\}} (\S+)'
    )
    found = re.findall(pattern, text)
    pid = requests.get(f"{proxy.admin_url}/healthz", headers={"Connection": "close"}, timeout=10).json()["pid"]
    return sum(float(v) for v in found), int(pid)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[str]:
    yield from start_emulator(tmp_path)


def test_one_metrics_for_all_workers_and_a_killed_worker_is_replaced(tmp_path: Path, emulator: str) -> None:
    cfg = tmp_path / "proxy.yaml"
    write_config(cfg, config(emulator, tmp_path / "meta.db"))
    proxy = start_proxy(cfg, tmp_path / "proxy.log", "--workers", "2")
    try:
        pids = [int(p) for p in proxy.proc.wait_for(r"workers: (\d+) (\d+)").groups()]
        for _ in range(20):
            assert getgroupids(proxy) == 0
        # whichever worker answers the scrape, it counts both workers' requests
        answered_by = set()
        for _ in range(8):
            total, pid = served(proxy)
            assert total == 20
            answered_by.add(pid)
        assert answered_by <= set(pids)

        os.kill(pids[0], signal.SIGKILL)
        restarted = proxy.proc.wait_for(rf"worker {pids[0]} exited \(-9\); restarted as (\d+)")
        replacement = int(restarted.group(1))
        assert replacement not in pids
        for _ in range(10):
            assert getgroupids(proxy) == 0
        deadline = time.monotonic() + 10
        while True:  # the dead worker's counts stay in the totals; the new worker's join them
            total, _ = served(proxy)
            if total == 30 or time.monotonic() > deadline:
                break
        assert total == 30
        assert proxy.proc.popen.poll() is None
    finally:
        code = proxy.proc.stop(signal.SIGTERM)
    assert code == 0
