"""Settings that change what a running proxy answers: each proven through a real server (emulator + proxy)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from proxy.app import RUNTIME
from proxy.commands.demo import start_stack
from proxy.emulator.synthetic import subject_photo
from proxy.settings import parse_settings
from proxy.translate.scores import calibration_from_config
from tests.v1.stack import BUCKET, TENANT_A, TENANT_B, Running, running, settings_data, signature

Tenant = tuple[str, str, str]


def single_use(tenant: Tenant, *, age_s: int) -> str:
    """A single-use (e=0) v1 signature made `age_s` seconds ago, as v1 documented them."""
    appid, secret_id, secret_key = tenant
    now = int(time.time()) - age_s
    text = f"a={appid}&b={BUCKET}&k={secret_id}&e=0&t={now}&r=4242&f="
    digest = hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest + text.encode()).decode()


async def post(run: Running, op: str, body: dict[str, Any], *, auth: str | None = None) -> dict[str, Any]:
    data = {"appid": TENANT_A[0], "bucket": BUCKET, **body}
    headers = {"Authorization": auth if auth is not None else signature()}
    async with aiohttp.ClientSession() as http, http.post(f"{run.url}/face/{op}", json=data, headers=headers) as answer:
        reply: dict[str, Any] = await answer.json()
        return reply


def b64(subject: int, index: int) -> str:
    return base64.b64encode(subject_photo(subject, index)).decode()


# ---- limits.max_fields --------------------------------------------------------------------------


async def test_limits_max_fields_is_the_limit_the_route_applies(tmp_path: Path) -> None:
    extra = {f"x{i}": "1" for i in range(3)}  # appid, bucket, person_id + 3 = 6 fields
    async with running(tmp_path, limits={"max_fields": 5}) as run:
        refused = await post(run, "getinfo", {"person_id": "p", **extra})
        assert refused["code"] == 21 and "fields" in refused["message"], refused
        assert (await post(run, "getinfo", {"person_id": "p", "x0": "1", "x1": "1"}))["code"] == -1303
    async with running(tmp_path / "default") as run:  # the default (64) takes the same body
        assert (await post(run, "getinfo", {"person_id": "p", **extra}))["code"] == -1303


# ---- tenants.isolated ---------------------------------------------------------------------------


@asynccontextmanager
async def alone(tmp_path: Path, *, isolated: bool) -> AsyncIterator[Running]:
    store = tmp_path / "meta.db"

    def settings(url: str) -> Any:
        data = settings_data(url, store)
        data["tenants"] = [
            {
                "appid": TENANT_A[0],
                "isolated": isolated,
                "legacy_keys": [{"secret_id": TENANT_A[1], "secret_key": TENANT_A[2]}],
            }
        ]
        return parse_settings(data)

    stack = await start_stack(store_url=f"sqlite:///{store}", settings_for=settings)
    host, port = stack.proxy_url.removeprefix("http://").rsplit(":", 1)
    try:
        yield Running(stack, host, int(port))
    finally:
        await stack.close()


async def test_tenants_isolated_false_keeps_clean_v3_ids(tmp_path: Path) -> None:
    for isolated in (False, True):
        async with alone(tmp_path / str(isolated), isolated=isolated) as run:
            reply = await post(run, "newperson", {"person_id": "ann", "group_ids": ["staff"], "image": b64(0, 0)})
            assert reply["code"] == 0, reply
            groups = set(run.emulator.state.groups)
            assert ("staff" in groups) is not isolated, groups
            assert len(groups) == 1


# ---- scores.calibration, scores.match_threshold -------------------------------------------------


async def raw_and_answered(run: Running) -> tuple[float, float]:
    """v3's own CompareFace score for two shots of one subject, and the similarity the proxy answers."""
    services = run.stack.proxy.app[RUNTIME].current.services
    raw = await services.v3.call("CompareFace", {"ImageA": subject_photo(1, 0), "ImageB": subject_photo(1, 1)})
    answered = await post(run, "compare", {"imageA": b64(1, 0), "imageB": b64(1, 1)})
    assert answered["code"] == 0, answered
    return float(raw.data["Score"]), float(answered["data"]["similarity"])


async def test_scores_calibration_identity_answers_v3s_score(tmp_path: Path) -> None:
    async with running(tmp_path / "identity", scores={"calibration": "identity", "match_threshold": 50}) as run:
        raw, answered = await raw_and_answered(run)
        assert answered == raw
    async with running(tmp_path / "default") as run:
        raw, answered = await raw_and_answered(run)
        assert answered != raw


async def test_scores_match_threshold_decides_ismatch(tmp_path: Path) -> None:
    for threshold, expected in ((100.0, False), (80.0, True)):
        async with running(tmp_path / str(threshold), scores={"match_threshold": threshold}) as run:
            person = {"person_id": "ann", "group_ids": ["staff"], "image": b64(2, 0)}
            assert (await post(run, "newperson", person))["code"] == 0
            verified = await post(run, "verify", {"person_id": "ann", "image": b64(2, 1)})
            assert verified["code"] == 0, verified
            assert verified["data"]["confidence"] < 100.0
            assert verified["data"]["ismatch"] is expected


async def test_scores_tenants_give_each_tenant_its_own_points_and_threshold(tmp_path: Path) -> None:
    steep, flat = [[0, 0], [50, 90], [100, 100]], [[0, 0], [100, 100]]
    own = {TENANT_A[0]: {"calibration": steep}, TENANT_B[0]: {"calibration": flat, "match_threshold": 100}}
    async with running(tmp_path, scores={"calibration": "far-matched", "match_threshold": 80, "tenants": own}) as run:
        raw, answered_a = await raw_and_answered(run)
        pair = {"appid": TENANT_B[0], "imageA": b64(1, 0), "imageB": b64(1, 1)}
        answered_b = await post(run, "compare", pair, auth=signature(TENANT_B))
        assert answered_b["code"] == 0, answered_b
        # the same v3 score, each tenant's own points (neither the global far-matched)
        assert answered_a == calibration_from_config(tuple(map(tuple, steep)), 80).to_v1(raw)
        assert answered_b["data"]["similarity"] == raw != answered_a
        for tenant, expected in ((TENANT_A, True), (TENANT_B, False)):  # B's own threshold: 100
            person = {"appid": tenant[0], "person_id": "ann", "group_ids": ["staff"], "image": b64(2, 0)}
            assert (await post(run, "newperson", person, auth=signature(tenant)))["code"] == 0
            probe = {"appid": tenant[0], "person_id": "ann", "image": b64(2, 1)}
            verified = await post(run, "verify", probe, auth=signature(tenant))
            assert verified["code"] == 0 and verified["data"]["confidence"] < 100.0, verified
            assert verified["data"]["ismatch"] is expected


# ---- errors.overrides ---------------------------------------------------------------------------


async def test_errors_overrides_change_the_v1_code_answered(tmp_path: Path) -> None:
    override = {"overrides": {"InvalidParameterValue.PersonIdNotExist": -1305}}
    async with running(tmp_path / "override", errors=override) as run:
        assert (await post(run, "getinfo", {"person_id": "nobody"}))["code"] == -1305
    async with running(tmp_path / "default") as run:
        assert (await post(run, "getinfo", {"person_id": "nobody"}))["code"] == -1303


# ---- auth.max_signature_validity_s, auth.single_use_window_s -------------------------------------


async def test_auth_max_signature_validity_refuses_longer_signatures(tmp_path: Path) -> None:
    hour = signature(howlong=3600)
    async with running(tmp_path / "short", auth={"max_signature_validity_s": 600}) as run:
        assert (await post(run, "getinfo", {"person_id": "p"}, auth=hour))["code"] == 9
        assert (await post(run, "getinfo", {"person_id": "p"}, auth=signature(howlong=600)))["code"] == -1303
    async with running(tmp_path / "default") as run:
        assert (await post(run, "getinfo", {"person_id": "p"}, auth=hour))["code"] == -1303


async def test_auth_single_use_window_bounds_a_single_use_signatures_age(tmp_path: Path) -> None:
    async with running(tmp_path / "short", auth={"single_use_window_s": 30}) as run:
        assert (await post(run, "getinfo", {"person_id": "p"}, auth=single_use(TENANT_A, age_s=120)))["code"] == 13
        assert (await post(run, "getinfo", {"person_id": "p"}, auth=single_use(TENANT_A, age_s=5)))["code"] == -1303
    async with running(tmp_path / "default") as run:
        assert (await post(run, "getinfo", {"person_id": "p"}, auth=single_use(TENANT_A, age_s=120)))["code"] == -1303
