"""The fleet's shared limits through real processes: `v1proxy serve` x N on one Redis, the emulator as v3.

- the upstream quota holds across 4 proxy processes and 200 concurrent clients, measured where v3
  would see it (the emulator's admitted requests), with no throttling answer reaching the app;
- a single-use signature accepted by one replica is refused by another with 13;
- Redis unreachable: single-use signatures get 108 (fail closed), multi-use ones still work;
- /readyz says so while a Redis of the test's own is stopped (ready, degraded: redis) and recovers;
- without Redis, one tenant filling its replay table never refuses another's single-use signatures.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import requests
from qcloud_image.auth import Auth

from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY
from proxy.v1.auth import LegacyKey, sign
from tests.fixtures_redis import RedisTarget
from tests.limits.test_replay import closed_port
from tests.ops.conftest import TENANT_A, TENANT_B, Proxy, config, spawn, start_proxy, write_config

BUCKET = "fleet"
QUOTA = 40  # the proxies' budget for the "library" group, 20 % under the emulator's 50/s (arrival jitter)
EMULATOR_QPS = 50


def start_emulator(tmp_path: Path, *extra: str) -> Iterator[str]:
    proc = spawn(
        ["emulator", "--port", "0", "--secret-id", DEMO_V3_ID, "--secret-key", DEMO_V3_KEY, *extra],
        tmp_path / "emulator.log",
    )
    try:
        yield proc.wait_for(r"emulator listening on (http://\S+)").group(1)
    finally:
        proc.stop()


@pytest.fixture
def limited_emulator(tmp_path: Path) -> Iterator[str]:
    """v3 allowing EMULATOR_QPS requests in any one second (RequestLimitExceeded past it)."""
    yield from start_emulator(tmp_path, "--qps-limit", str(EMULATOR_QPS))


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[str]:
    yield from start_emulator(tmp_path)


def start_fleet(tmp_path: Path, emulator: str, count: int, **extra: Any) -> list[Proxy]:
    proxies = []
    try:
        for i in range(count):
            cfg = tmp_path / f"proxy{i}.yaml"
            write_config(cfg, config(emulator, tmp_path / f"meta{i}.db", tenants=(TENANT_A, TENANT_B), **extra))
            proxies.append(start_proxy(cfg, tmp_path / f"proxy{i}.log"))
    except BaseException:
        stop_fleet(proxies)
        raise
    return proxies


def stop_fleet(proxies: list[Proxy]) -> None:
    for proxy in proxies:
        proxy.proc.stop()


def single_use(tenant: tuple[str, str, str], rand: str) -> str:
    appid, secret_id, secret_key = tenant
    plain = f"a={appid}&b={BUCKET}&k={secret_id}&e=0&t={int(time.time())}&r={rand}&f="
    return sign(LegacyKey(appid=appid, secret_id=secret_id, secret_key=secret_key), plain)


def getgroupids(proxy: Proxy, authorization: str, tenant: tuple[str, str, str] = TENANT_A) -> tuple[int, int]:
    """The legacy SDK's own getgroupids request (same URL, headers and JSON body); (HTTP status, v1 code)."""
    response = requests.post(
        f"{proxy.url}/face/getgroupids",
        headers={"Authorization": authorization, "Content-Type": "application/json"},
        data=json.dumps({"appid": tenant[0], "bucket": BUCKET}),
        timeout=30,
    )
    return response.status_code, int(response.json()["code"])


def test_quota_holds_across_four_processes_and_200_clients(
    tmp_path: Path, limited_emulator: str, redis_target: RedisTarget
) -> None:
    wait_ms = 10000  # QUOTA x wait = 400 calls may wait at once: 200 clients stay well within it
    proxies = start_fleet(
        tmp_path,
        limited_emulator,
        4,
        redis=redis_target.settings(),
        # 50 clients per process wait for the quota at once: above the default per-tenant cap of 32
        limits={
            "quota_groups": {"library": QUOTA},
            "quota_wait_ms": wait_ms,
            "max_inflight_per_tenant": 64,
            "body_budget_bytes": 512 * 2**20,
        },
        logging={"format": "json", "level": "warning"},
    )
    try:
        requests.delete(f"{limited_emulator}/_emulator/stats", timeout=5)
        codes = asyncio.run(closed_loop_clients(proxies, clients=200, seconds=12.0))
        stats = requests.get(f"{limited_emulator}/_emulator/stats", timeout=5).json()
    finally:
        stop_fleet(proxies)
    assert codes.get(15, 0) == 0, codes  # nothing throttled reached the app ...
    assert set(codes) == {0}, codes  # ... and nothing else went wrong
    assert sum(codes.values()) > 300
    admitted = sorted(stats["admitted_at"])
    # the steady state, away from the start and the end of the run
    steady = [t for t in admitted if admitted[0] + 1.0 <= t <= admitted[-1] - 1.0]
    rate = (len(steady) - 1) / (steady[-1] - steady[0])
    print(
        f"\nquota {QUOTA}/s, 4 processes, 200 clients: admitted {rate:.2f}/s at the emulator "
        f"({len(admitted)} calls; {stats['throttled']} throttled tries retried, none reached the app)"
    )
    # the quota is a ceiling: never above it (5% for arrival jitter at the emulator). How close to it four processes
    # and 200 clients come depends on the CPU they get on a shared machine: that is a benchmark's figure, not asserted
    assert rate <= QUOTA * 1.05, rate


async def closed_loop_clients(proxies: list[Proxy], *, clients: int, seconds: float) -> Counter[int]:
    """`clients` concurrent legacy callers, each sending getgroupids again as soon as answered."""
    appid, secret_id, secret_key = TENANT_A
    authorization = Auth(appid, secret_id, secret_key).get_sign(BUCKET, 600).decode("ascii")
    body = json.dumps({"appid": appid, "bucket": BUCKET})
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    codes: Counter[int] = Counter()
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def client(i: int) -> None:
            url = f"{proxies[i % len(proxies)].url}/face/getgroupids"
            while time.monotonic() < stop_at:
                async with session.post(url, data=body, headers=headers) as response:
                    codes[int((await response.json(content_type=None))["code"])] += 1

        await asyncio.gather(*(client(i) for i in range(clients)))
    return codes


def test_a_single_use_signature_is_accepted_once_by_the_whole_fleet(
    tmp_path: Path, emulator: str, redis_target: RedisTarget
) -> None:
    first, second = start_fleet(tmp_path, emulator, 2, redis=redis_target.settings())
    try:
        once = single_use(TENANT_A, "7")
        assert getgroupids(first, once) == (200, 0)
        assert getgroupids(second, once) == (401, 13)  # the other replica knows it was used
        assert getgroupids(first, once) == (401, 13)
        assert getgroupids(second, single_use(TENANT_A, "8")) == (200, 0)
    finally:
        stop_fleet([first, second])


def test_redis_down_refuses_single_use_signatures_with_108(tmp_path: Path, emulator: str) -> None:
    (proxy,) = start_fleet(
        tmp_path, emulator, 1, redis={"url": f"redis://127.0.0.1:{closed_port()}/0", "timeout_ms": 300}
    )
    try:
        assert getgroupids(proxy, single_use(TENANT_A, "1")) == (503, 108)
        # multi-use signatures do not need the replay guard: served as usual
        appid, secret_id, secret_key = TENANT_A
        assert getgroupids(proxy, Auth(appid, secret_id, secret_key).get_sign(BUCKET).decode()) == (200, 0)
        assert getgroupids(proxy, single_use(TENANT_A, "2")) == (503, 108)
    finally:
        proxy.proc.stop()


def test_one_tenant_filling_its_replay_table_never_refuses_another(tmp_path: Path, emulator: str) -> None:
    (proxy,) = start_fleet(tmp_path, emulator, 1, limits={"replay_capacity_per_tenant": 2})
    try:
        assert getgroupids(proxy, single_use(TENANT_A, "1")) == (200, 0)
        assert getgroupids(proxy, single_use(TENANT_A, "2")) == (200, 0)
        assert getgroupids(proxy, single_use(TENANT_A, "3")) == (429, 15)  # A's part is full
        assert getgroupids(proxy, single_use(TENANT_B, "1"), TENANT_B) == (200, 0)  # B is not affected
        assert getgroupids(proxy, single_use(TENANT_B, "2"), TENANT_B) == (200, 0)
    finally:
        proxy.proc.stop()


class PrivateRedis:
    """A redis-server of this test's own on a free port (never the shared one), stopped and started at will."""

    def __init__(self, workdir: Path) -> None:
        self.port = closed_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server is not None
        argv = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen([*argv, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server): no private Redis to stop")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def readyz(proxy: Proxy) -> tuple[int, dict[str, Any]]:
    response = requests.get(f"{proxy.admin_url}/readyz", timeout=10)
    return response.status_code, response.json()


def redis_check(body: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in body["checks"] if c["name"] == "redis")


def test_readyz_reports_redis_down_as_degraded_and_back(
    tmp_path: Path, emulator: str, private_redis: PrivateRedis
) -> None:
    (proxy,) = start_fleet(
        tmp_path, emulator, 1, redis={"url": private_redis.url, "timeout_ms": 300, "cooldown_ms": 200}
    )
    try:
        status, body = readyz(proxy)
        assert (status, body["ready"], body["degraded"]) == (200, True, [])
        assert redis_check(body) == {"name": "redis", "ok": True, "detail": "", "required": False}
        assert getgroupids(proxy, single_use(TENANT_A, "1")) == (200, 0)

        private_redis.stop()
        status, body = readyz(proxy)
        # still ready (it serves: multi-use signatures work), but says what is degraded and what that means
        assert (status, body["ready"], body["degraded"]) == (200, True, ["redis"])
        check = redis_check(body)
        assert check["ok"] is False and check["required"] is False
        assert "108" in check["detail"] and "quota" in check["detail"]
        assert getgroupids(proxy, single_use(TENANT_A, "2")) == (503, 108)
        appid, secret_id, secret_key = TENANT_A
        assert getgroupids(proxy, Auth(appid, secret_id, secret_key).get_sign(BUCKET).decode()) == (200, 0)

        private_redis.start()
        status, body = readyz(proxy)
        assert (status, body["ready"], body["degraded"]) == (200, True, [])
        assert redis_check(body)["ok"] is True
        time.sleep(0.3)  # the breaker's cooldown after the last failure
        assert getgroupids(proxy, single_use(TENANT_A, "3")) == (200, 0)
    finally:
        proxy.proc.stop()


def test_readyz_without_redis_has_no_redis_check(tmp_path: Path, emulator: str) -> None:
    (proxy,) = start_fleet(tmp_path, emulator, 1)
    try:
        status, body = readyz(proxy)
        assert (status, body["ready"], body["degraded"]) == (200, True, [])
        assert "redis" not in {c["name"] for c in body["checks"]}
    finally:
        proxy.proc.stop()
