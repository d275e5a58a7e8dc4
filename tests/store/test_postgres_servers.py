"""What only a real server shows: two `v1proxy serve` processes on one PostgreSQL, and PostgreSQL restarting.

The legacy SDK is the client. Its host is a class attribute; each client here gets its own host
(instance override of build_url) so that two proxies can be driven at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from qcloud_image import CIBuffer, CIBuffers, Client

from proxy.emulator.synthetic import subject_photo
from tests.ops.conftest import BUCKET, TENANT_A, Proxy, config, spawn, start_proxy, write_config
from tests.store.private_pg import PrivatePostgres


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[str]:
    from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY

    proc = spawn(
        ["emulator", "--port", "0", "--latency-ms", "5", "--secret-id", DEMO_V3_ID, "--secret-key", DEMO_V3_KEY],
        tmp_path / "emulator.log",
    )
    try:
        yield proc.wait_for(r"emulator listening on (http://\S+)").group(1)
    finally:
        proc.stop()


def client_of(proxy: Proxy) -> Client:
    appid, secret_id, secret_key = TENANT_A
    client = Client(appid, secret_id, secret_key, BUCKET)
    client._conf.build_url = lambda uri: f"http://{proxy.address}/{uri.lstrip('/')}"
    client._conf.set_timeout(30)
    return client


def serve_on(tmp_path: Path, name: str, emulator: str, store: dict[str, Any]) -> Proxy:
    path = tmp_path / f"{name}.yaml"
    data = config(emulator, tmp_path / "unused.db")
    data["store"] = store
    write_config(path, data)
    return start_proxy(path, tmp_path / f"{name}.log")


def photo(subject: int, n: int) -> bytes:
    return subject_photo(subject, n)


def test_two_servers_on_one_postgres_writing_one_person(
    tmp_path: Path, emulator: str, postgres_schema_url: str
) -> None:
    proxies = [serve_on(tmp_path, name, emulator, {"url": postgres_schema_url}) for name in ("a", "b")]
    try:
        clients = [client_of(p) for p in proxies]
        # both create the same person at once: exactly one wins, the rest are told it exists
        with ThreadPoolExecutor(6) as pool:
            created = list(
                pool.map(
                    lambda i: clients[i % 2].face_newperson("same", ["g"], CIBuffer(photo(1, 0)), person_name=f"n{i}"),
                    range(6),
                )
            )
        codes = sorted(r["code"] for r in created)
        assert codes == [-1302] * 5 + [0], created
        winner = f"n{[r['code'] for r in created].index(0)}"
        assert [c.face_getinfo("same")["data"]["person_name"] for c in clients] == [winner, winner]

        # renames and added faces from both processes at once
        def work(i: int) -> dict[str, Any]:
            client = clients[i % 2]
            if i % 2 == 0:
                reply: dict[str, Any] = client.face_setinfo("same", person_name=f"renamed {i}")
            else:
                reply = client.face_addface("same", CIBuffers([photo(1, i)]))
            return reply

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(work, range(16)))
        assert [r["code"] for r in replies[0::2]] == [0] * 8, replies
        added = [r for r in replies[1::2] if r["code"] == 0 and r["data"]["ret_codes"] == [0]]

        infos = [{k: v for k, v in c.face_getinfo("same")["data"].items() if k != "session_id"} for c in clients]
        assert infos[0] == infos[1]
        assert infos[0]["person_name"] in {f"renamed {i}" for i in range(0, 16, 2)}
        face_ids = [sorted(c.face_getfaceids("same")["data"]["face_ids"]) for c in clients]
        assert face_ids[0] == face_ids[1]
        assert len(face_ids[0]) == 1 + len(added)  # nothing lost, nothing doubled
        for face_id in face_ids[0]:  # every face v3 holds has its v1 record in the shared store
            assert [c.face_getfaceinfo(face_id)["code"] for c in clients] == [0, 0]
    finally:
        for p in proxies:
            p.proc.stop()


def _readyz(proxy: Proxy) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{proxy.admin_url}/readyz", timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _client_backends(url: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            value = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            return int(value)
        finally:
            await conn.close()

    return asyncio.run(count())


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def test_postgres_restart_under_traffic(tmp_path: Path, emulator: str, private_postgres: PrivatePostgres) -> None:
    store = {"url": private_postgres.url, "pool_min": 3, "pool_max": 4, "connect_timeout_s": 1}
    proxy = serve_on(tmp_path, "proxy", emulator, store)
    try:
        # store.pool_min took effect: the process keeps exactly that many connections open
        assert _client_backends(private_postgres.url) == 3
        client = client_of(proxy)
        assert client.face_newperson("p", ["g"], CIBuffer(photo(2, 0)), person_name="before")["code"] == 0
        assert _readyz(proxy)[0] == 200

        answers: list[tuple[str, Any]] = []
        stop = threading.Event()

        def traffic(n: int) -> None:
            own = client_of(proxy)
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if i % 2:
                        answers.append(("getinfo", own.face_getinfo("p")))
                    else:
                        answers.append(("setinfo", own.face_setinfo("p", tag=f"t{n}-{i}")))
                except Exception as exc:  # a non-JSON answer (500 page, reset) is recorded as a failure
                    answers.append(("error", repr(exc)))

        with ThreadPoolExecutor(4) as pool:
            for n in range(4):
                pool.submit(traffic, n)
            time.sleep(0.5)
            private_postgres.stop()
            _wait(lambda: _readyz(proxy)[0] == 503, 15, "/readyz 503 while PostgreSQL is down")
            status, body = _readyz(proxy)
            assert status == 503
            assert {c["name"]: c["ok"] for c in body["checks"]}["store"] is False
            time.sleep(1.5)
            private_postgres.start()
            _wait(lambda: _readyz(proxy)[0] == 200, 20, "/readyz 200 once PostgreSQL is back")
            time.sleep(1.0)
            stop.set()

        errors = [a for a in answers if a[0] == "error"]
        assert errors == []
        codes = {reply["code"] for _, reply in answers}
        assert codes <= {0, 213}, codes  # served, or "internal error" (v1's 213) while the store was away
        assert 213 in codes and 0 in codes
        assert all(isinstance(reply, dict) and "message" in reply for _, reply in answers)
        # the service recovered: writes and reads answer, and the store kept what it had
        assert client.face_setinfo("p", person_name="after")["code"] == 0
        info = client.face_getinfo("p")
        assert info["code"] == 0 and info["data"]["person_name"] == "after"
        assert client.face_newperson("q", ["g"], CIBuffer(photo(3, 0)))["code"] == 0
        assert _client_backends(private_postgres.url) <= 4  # store.pool_max
    finally:
        proxy.proc.stop()
