"""The admin listener on a live emulator + proxy: metrics with bounded labels, health, readiness, request ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient
from qcloud_image import CIBuffer, Client
from qcloud_image.conf import Conf

from proxy.admin.app import ADMIN_STATE, create_admin_app
from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY, Stack, start_stack
from proxy.emulator.synthetic import subject_photo
from proxy.settings import Settings, parse_settings

TENANT = ("1250000001", "AKIDadminTenant", "secret-of-admin-tenant")
BUCKET = "b"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    def settings_for(url: str) -> Settings:
        return parse_settings(
            {
                "listen": {"host": "127.0.0.1", "port": 0},
                "upstream": {"endpoint": url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
                "tenants": [{"appid": TENANT[0], "legacy_keys": [{"secret_id": TENANT[1], "secret_key": TENANT[2]}]}],
                "store": {"url": f"sqlite:///{tmp_path / 'meta.db'}"},
            }
        )

    running = await start_stack(store_url=f"sqlite:///{tmp_path / 'meta.db'}", settings_for=settings_for)
    yield running
    await running.close()


@pytest.fixture
def pointed(stack: Stack) -> Iterator[Client]:
    original = Conf._Conf__SERVICE_ADDR
    Conf._Conf__SERVICE_ADDR = stack.proxy_url.removeprefix("http://")
    yield Client(*TENANT, BUCKET)
    Conf._Conf__SERVICE_ADDR = original


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def call(fn: Any, *args: Any) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.to_thread(fn, *args)
    return result


async def test_metrics_count_requests_v3_calls_scores_and_signature_failures(
    stack: Stack, pointed: Client, aiohttp_client: AiohttpClient
) -> None:
    admin = await aiohttp_client(create_admin_app(stack.proxy.app))
    photo = CIBuffer(subject_photo(0, 0))
    assert (await call(pointed.face_newperson, "alice-secret-person", ["staff"], photo))["code"] == 0
    assert (await call(pointed.face_verify, "alice-secret-person", CIBuffer(subject_photo(0, 1))))["code"] == 0
    assert (await call(pointed.face_compare, photo, CIBuffer(subject_photo(1, 0))))["code"] == 0
    missing = await call(pointed.face_verify, "nobody-here", photo)
    assert missing["code"] == -1303
    wrong_key = Client(TENANT[0], TENANT[1], "not-the-secret", BUCKET)
    refused = await call(wrong_key.face_getinfo, "alice-secret-person")
    assert refused["code"] == 14  # a known SecretId, a wrong key: the signature check fails
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.proxy_url}/face/no-such-op-xyz", data=b"") as resp:
            assert resp.status == 400
            assert (await resp.json())["code"] == 3
        async with http.post(f"{stack.proxy_url}/some/raw/path", data=b"") as resp:
            assert resp.status == 404

    response = await admin.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()

    requests = samples(text, "v1proxy_requests_total")
    assert requests[(("code", "0"), ("op", "newperson"), ("tenant", TENANT[0]))] == 1
    assert requests[(("code", "0"), ("op", "verify"), ("tenant", TENANT[0]))] == 1
    assert requests[(("code", str(refused["code"])), ("op", "getinfo"), ("tenant", "unknown"))] == 1  # before auth
    assert requests[(("code", str(missing["code"])), ("op", "verify"), ("tenant", TENANT[0]))] == 1
    # unknown op and raw path: bounded to "unknown"
    assert sum(v for k, v in requests.items() if ("op", "unknown") in k) == 2
    signature = samples(text, "v1proxy_signature_failures_total")
    assert signature[(("code", str(refused["code"])),)] == 1
    assert sum(signature.values()) == 1
    assert samples(text, "v1proxy_request_seconds_count")[(("op", "newperson"),)] == 1
    v3 = samples(text, "v1proxy_v3_call_seconds_count")
    assert v3[(("action", "CreatePerson"),)] >= 1
    assert v3[(("action", "CompareFace"),)] == 1
    assert sum(samples(text, "v1proxy_v3_errors_total").values()) >= 1
    raw = samples(text, "v1proxy_score_raw_count")
    calibrated = samples(text, "v1proxy_score_calibrated_count")
    assert raw[(("op", "verify"),)] == calibrated[(("op", "verify"),)] == 1
    assert raw[(("op", "compare"),)] == calibrated[(("op", "compare"),)] == 1
    # raw and calibrated differ (far-matched calibration lifts scores): sums disagree
    assert samples(text, "v1proxy_score_raw_sum") != samples(text, "v1proxy_score_calibrated_sum")
    assert samples(text, "v1proxy_requests_in_flight")[()] == 0
    # bounded labels: no person ids, no raw paths, no unknown op names
    for needle in ("alice-secret-person", "nobody-here", "no-such-op-xyz", "/some/raw/path", "staff"):
        assert needle not in text


async def test_in_flight_gauge_counts_a_request_being_served(
    stack: Stack, pointed: Client, aiohttp_client: AiohttpClient
) -> None:
    admin = await aiohttp_client(create_admin_app(stack.proxy.app))
    task = asyncio.create_task(call(pointed.face_newperson, "slow", ["g"], CIBuffer(subject_photo(2, 0))))
    seen = 0.0
    for _ in range(200):
        seen = max(seen, samples(await (await admin.get("/metrics")).text(), "v1proxy_requests_in_flight")[()])
        if seen or task.done():
            break
        await asyncio.sleep(0.005)
    assert (await task)["code"] == 0
    assert seen == 1


async def test_healthz_and_readyz(stack: Stack, aiohttp_client: AiohttpClient) -> None:
    admin_app = create_admin_app(stack.proxy.app)
    admin = await aiohttp_client(admin_app)
    alive = await admin.get("/healthz")
    assert alive.status == 200 and (await alive.json())["status"] == "alive"
    ready = await admin.get("/readyz")
    body = await ready.json()
    assert ready.status == 200, body
    assert {c["name"]: c["ok"] for c in body["checks"]} == {"config": True, "store": True, "v3_credentials": True}
    admin_app[ADMIN_STATE].draining = True
    assert (await admin.get("/readyz")).status == 503


async def test_readyz_fails_when_the_store_is_unusable(stack: Stack, aiohttp_client: AiohttpClient) -> None:
    from proxy.app import RUNTIME

    admin = await aiohttp_client(create_admin_app(stack.proxy.app))
    await stack.proxy.app[RUNTIME].current.services.store.close()
    ready = await admin.get("/readyz")
    body = await ready.json()
    assert ready.status == 503, body
    assert {c["name"]: c["ok"] for c in body["checks"]}["store"] is False


async def test_x_request_id_is_kept_when_sane_and_replaced_otherwise(stack: Stack) -> None:
    url = f"{stack.proxy_url}/face/getinfo"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=b"", headers={"X-Request-Id": "trace-42/abc"}) as resp:
            assert resp.headers["X-Request-Id"] == "trace-42/abc"
        async with http.post(url, data=b"") as resp:
            made = resp.headers["X-Request-Id"]
            assert len(made) == 32 and int(made, 16) >= 0
        for bad in ("x" * 129, "tab\there", "ünïcode"):
            async with http.post(url, data=b"", headers={"X-Request-Id": bad}) as resp:
                echoed = resp.headers["X-Request-Id"]
                assert echoed != bad and len(echoed) == 32
        async with http.post(f"{stack.proxy_url}/nowhere", data=b"", headers={"X-Request-Id": "r-404"}) as resp:
            assert resp.headers["X-Request-Id"] == "r-404"


async def test_readyz_upstream_check_is_cached(tmp_path: Path, aiohttp_client: AiohttpClient) -> None:
    def settings_for(url: str) -> Settings:
        return parse_settings(
            {
                "listen": {"host": "127.0.0.1", "port": 0},
                "admin": {"upstream_check_s": 60},
                "upstream": {"endpoint": url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
                "tenants": [{"appid": TENANT[0], "legacy_keys": [{"secret_id": TENANT[1], "secret_key": TENANT[2]}]}],
                "store": {"url": "sqlite://:memory:"},
            }
        )

    running = await start_stack(store_url="sqlite://:memory:", settings_for=settings_for)
    try:
        admin = await aiohttp_client(create_admin_app(running.proxy.app))
        for _ in range(3):
            body = await (await admin.get("/readyz")).json()
            assert {c["name"]: c["ok"] for c in body["checks"]}["upstream"] is True
        text = await (await admin.get("/metrics")).text()
        assert samples(text, "v1proxy_v3_call_seconds_count")[(("action", "GetGroupList"),)] == 1
    finally:
        await running.close()


def test_admin_port_must_differ_from_the_legacy_port() -> None:
    from proxy.settings import SettingsError

    with pytest.raises(SettingsError, match=r"admin\.port different from listen\.port"):
        parse_settings(
            {
                "listen": {"port": 8080},
                "admin": {"port": 8080},
                "upstream": {"secret_id": "a", "secret_key": "b"},
                "tenants": [{"appid": "1", "legacy_keys": [{"secret_id": "x", "secret_key": "y"}]}],
            }
        )
