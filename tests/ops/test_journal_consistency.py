"""Writes converge with v3 under faults and a SIGKILL: after reconciliation the store equals v3, exactly.

Per seed: a seeded random workload of every write op (newperson, delperson, addface, delface,
setinfo) from 4 legacy-SDK clients against a real `v1proxy serve`, while the emulator injects
errors, timeouts, dropped connections, malformed replies, throttling and latency above the
proxy's read timeout (so v3 applies some writes the proxy gave up on); midway the proxy is
SIGKILLed and started again. Then the faults stop, the journal's sweeper settles every open
entry, and the store is compared with the emulator's state read through the official v3 SDK:
the same persons, each with the same faces and a v3 name that is the stand-in of the stored
v1 name; the persons' groups are the workload's. Zero differences. Five seeds on SQLite, two on
PostgreSQL (a private schema of the test server).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from qcloud_image import CIBuffer, CIBuffers, Client
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.iai.v20200303 import iai_client

from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY
from proxy.emulator.synthetic import subject_photo
from proxy.translate.names import v3_person_name
from proxy.translate.scope import Scope
from tests.ops.conftest import BUCKET, TENANT_A, Proxy, config, spawn, start_proxy, write_config

SEEDS = (1, 2, 3, 4, 5)
PG_SEEDS = (6, 7)  # the same workload on PostgreSQL, fewer seeds to bound the time
OPS_PER_SEED = 48
CLIENTS = 4
PERSONS = 5
FAULTS = {
    "internal_error_rate": 0.05,
    "timeout_rate": 0.04,
    "drop_rate": 0.04,
    "malformed_rate": 0.04,
    "latency_ms": 20,
    "jitter_ms": 450,  # above the proxy's read timeout (0.3 s) now and then: v3 applies what the proxy gave up on
    "qps_limit": 60,
}
PHOTOS = {(s, n): subject_photo(s, n) for s in range(PERSONS) for n in range(4)}


@dataclass
class Target:
    """The proxy the clients talk to now (it changes when the proxy is killed and started again)."""

    proxy: Proxy
    lock: threading.Lock

    def client(self) -> Client:
        appid, secret_id, secret_key = TENANT_A
        client = Client(appid, secret_id, secret_key, BUCKET)
        with self.lock:
            address = self.proxy.address
        client._conf.build_url = lambda uri: f"http://{address}/{uri.lstrip('/')}"
        client._conf.set_timeout(15)
        return client


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[str]:
    proc = spawn(
        ["emulator", "--port", "0", "--secret-id", DEMO_V3_ID, "--secret-key", DEMO_V3_KEY], tmp_path / "emulator.log"
    )
    try:
        yield proc.wait_for(r"emulator listening on (http://\S+)").group(1)
    finally:
        proc.stop()


def post_json(url: str, data: dict[str, Any]) -> None:
    body = json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


def one_op(rng: random.Random, target: Target, seed: int) -> None:
    subject = rng.randrange(PERSONS)
    person = f"s{seed}-p{subject}"
    kind = rng.choice(("newperson", "newperson", "addface", "addface", "delface", "setinfo", "setinfo", "delperson"))
    client = target.client()
    try:
        if kind == "newperson":
            groups = [f"s{seed}-g{rng.randrange(2)}"] + ([f"s{seed}-g2"] if rng.random() < 0.3 else [])
            reply = client.face_newperson(
                person, groups, CIBuffer(PHOTOS[subject, 0]), person_name=f"名 {rng.randrange(99)}", tag=f"t{seed}"
            )
        elif kind == "addface":
            images = [PHOTOS[subject, 1 + rng.randrange(3)] for _ in range(1 + rng.randrange(2))]
            reply = client.face_addface(person, CIBuffers(images), tag=f"face {rng.randrange(9)}")
        elif kind == "delface":
            faces = client.face_getfaceids(person)
            ids = faces.get("data", {}).get("face_ids") or ["no-such-face"]
            reply = client.face_delface(person, [rng.choice(ids)])
        elif kind == "setinfo":
            name = f"renamed {rng.randrange(99)}" if rng.random() < 0.7 else None
            reply = client.face_setinfo(person, person_name=name, tag=f"tag {rng.randrange(99)}")
        else:
            reply = client.face_delperson(person)
    except Exception:  # the proxy was killed under this request: the app sees a dropped connection
        return
    assert isinstance(reply, dict) and isinstance(reply.get("code"), int), reply


@dataclass(frozen=True)
class StoreReader:
    """Reads the proxy's store from outside, as an operator would: the SQLite file or the PostgreSQL schema."""

    url: str

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite://"):
            with sqlite3.connect(self.url[len("sqlite://") :]) as db:
                return list(db.execute(sql, params).fetchall())
        numbered = sql
        for n in range(1, len(params) + 1):
            numbered = numbered.replace("?", f"${n}", 1)

        async def fetch() -> list[tuple[Any, ...]]:
            conn = await asyncpg.connect(self.url)
            try:
                return [tuple(r) for r in await conn.fetch(numbered, *params)]
            finally:
                await conn.close()

        return asyncio.run(fetch())


def open_entries(store: StoreReader) -> int:
    return int(store.rows("SELECT COUNT(*) FROM journal WHERE state IN ('pending', 'unknown')")[0][0])


def v3_state(emulator: str, scope: Scope, seed: int) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Each of this seed's persons in v3: (v3 name, sorted face ids, sorted v1 group ids)."""
    endpoint = emulator.split("://", 1)[1]
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint, reqTimeout=30))
    sdk = iai_client.IaiClient(credential.Credential(DEMO_V3_ID, DEMO_V3_KEY), "ap-guangzhou", profile)
    groups: dict[str, list[str]] = {}
    for group in (f"s{seed}-g{n}" for n in range(3)):
        try:
            listed = sdk.call_json("GetPersonList", {"GroupId": scope.v3_id(group), "Limit": 1000})
        except Exception as exc:
            if "GroupIdNotExist" in str(exc):
                continue
            raise
        for item in listed["Response"]["PersonInfos"]:
            groups.setdefault(item["PersonId"], []).append(group)
    state = {}
    for v3_id, in_groups in groups.items():
        base = sdk.call_json("GetPersonBaseInfo", {"PersonId": v3_id})["Response"]
        v1_id = scope.v1_id(v3_id)
        assert v1_id is not None
        state[v1_id] = (base["PersonName"], tuple(sorted(base["FaceIds"])), tuple(sorted(in_groups)))
    return state


def store_state(store: StoreReader, scope: Scope, seed: int) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Each of this seed's persons in the store: (the v3 stand-in of the v1 name, sorted face ids, groups)."""
    prefix = f"s{seed}-%"
    persons = store.rows(
        "SELECT person_id, name FROM person WHERE namespace = ? AND person_id LIKE ?", scope.store_key, prefix
    )
    faces: dict[str, list[str]] = {}
    for face_id, person_id in store.rows(
        "SELECT face_id, person_id FROM face WHERE namespace = ? AND person_id LIKE ?", scope.store_key, prefix
    ):
        faces.setdefault(person_id, []).append(face_id)
    return {pid: (v3_person_name(name, pid), tuple(sorted(faces.get(pid, []))), ()) for pid, name in persons}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


def test_store_equals_v3_after_faults_a_sigkill_and_reconciliation(
    tmp_path: Path, emulator: str, store_url: str
) -> None:
    store = StoreReader(store_url)
    cfg = tmp_path / "proxy.yaml"
    data = config(emulator, tmp_path / "unused.db")
    data["store"] = {"url": store_url}
    data["upstream"]["read_timeout"] = 0.3
    # retry_max_s: a settle deferred while v3 faulted (backoff doubling per attempt: 32 s after five) is tried
    # again within a second once the faults stop, well inside the wait below
    data["journal"] = {"settle_after_s": 0.8, "lease_s": 2.0, "sweep_interval_s": 0.3, "retry_max_s": 1.0}
    data["logging"] = {"format": "json", "level": "warning"}
    write_config(cfg, data)
    target = Target(start_proxy(cfg, tmp_path / "proxy-0.log"), threading.Lock())
    appid, _, _ = TENANT_A
    scope = Scope.of(appid, BUCKET)
    started = time.monotonic()
    restarts = 0
    try:
        for seed in SEEDS if store_url.startswith("sqlite") else PG_SEEDS:
            post_json(f"{emulator}/_emulator/faults", {"reset": True, "seed": seed, **FAULTS})
            rng = random.Random(seed)
            plans = [random.Random(rng.random()) for _ in range(OPS_PER_SEED)]
            kill_at = OPS_PER_SEED // 2 + rng.randrange(OPS_PER_SEED // 4)

            def run(i: int, plans: list[random.Random] = plans, seed: int = seed) -> None:
                one_op(plans[i], target, seed)

            with ThreadPoolExecutor(CLIENTS) as pool:
                first = [pool.submit(run, i) for i in range(kill_at)]
                time.sleep(0.15 * kill_at / CLIENTS)  # well into the burst
                target.proxy.proc.stop(signal.SIGKILL)  # mid-burst: requests in flight, entries open
                restarts += 1
                with target.lock:
                    target.proxy = start_proxy(cfg, tmp_path / f"proxy-{restarts}.log")
                for future in first:
                    future.result()
                for future in [pool.submit(run, i) for i in range(kill_at, OPS_PER_SEED)]:
                    future.result()

            post_json(f"{emulator}/_emulator/faults", {"reset": True})
            deadline = time.monotonic() + 30
            while open_entries(store) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert open_entries(store) == 0, "the sweeper left entries open"
            in_v3 = v3_state(emulator, scope, seed)
            in_store = store_state(store, scope, seed)
            differences = {
                pid: (in_store.get(pid), in_v3.get(pid))
                for pid in set(in_v3) | set(in_store)
                if in_store.get(pid) is None or in_v3.get(pid) is None or in_store[pid][:2] != in_v3[pid][:2]
            }
            assert differences == {}, f"seed {seed}"
            for pid, (_, _, groups) in in_v3.items():  # v3 holds each person only in groups the workload named
                assert groups and set(groups) <= {f"s{seed}-g{n}" for n in range(3)}, (pid, groups)
        assert time.monotonic() - started < 240
    finally:
        target.proxy.proc.stop()
