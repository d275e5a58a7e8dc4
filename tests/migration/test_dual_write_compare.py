"""End to end: dual writes of a shadowed tenant, driven by the legacy SDK, with faults injected on the v3 side,
are compared when the outbox settles them; the report counts exactly what the test counts itself (both stores)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from qcloud_image import CIBuffer, CIBuffers, Client

from proxy.cli import main
from proxy.emulator.synthetic import subject_photo
from tests.fixtures_pg import create_schema, drop_schema, with_schema
from tests.migration.staged import App, StagedWorld, staged_world

DUAL = App("1250000041", "AKIDdual", "key-dual")
GROUP = "staff"
PERSONS = 10
REFUSED_NEWPERSON = {3, 7}  # v3 answers CreatePerson with "no face in photo" (-1101): nothing is retried
THROTTLED_NEWPERSON = 5  # v3 answers InternalError once (213): the outbox retries, v3 does it
REFUSED_SETINFO = 2  # v3 answers ModifyPersonBaseInfo with "person does not exist" (-1303)


def in_thread(work: Any) -> Any:
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagedWorld]:
    tmp = tmp_path_factory.mktemp(f"dual-{request.param}")
    if request.param == "sqlite":
        yield from staged_world(tmp, (DUAL,))
        return
    server = request.getfixturevalue("postgres_server")
    schema = in_thread(create_schema(server))
    try:
        yield from staged_world(tmp, (DUAL,), store_url=with_schema(server, schema))
    finally:
        in_thread(drop_schema(server, schema))


def arm(world: StagedWorld, action: str, code: str) -> None:
    """One v3 fault rule: the next call of ``action`` is answered with ``code`` (POST /_emulator/rules)."""
    body = json.dumps({"rules": [{"action": action, "code": code, "times": 1}]}).encode()
    url = f"{world.v3.url}/_emulator/rules"
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        assert reply.status == 200


def report_of(world: StagedWorld, tmp: Path) -> dict[str, Any]:
    out = tmp / "report.json"
    assert main(["report", "--config", str(world.config_path), "--out", str(out), "--format", "json"]) == 0
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def person(s: int) -> str:
    return f"d{s}"


def test_dual_writes_under_v3_faults_are_counted_as_the_test_counts_them(world: StagedWorld, tmp_path: Path) -> None:
    world.config["shadow"] = {"sample_percent": 0, "noise_percent": 0}  # no read twins: writes only
    world.route(DUAL, "shadow")
    client: Client = DUAL.client()
    compared: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    refusals: Counter[tuple[str, int]] = Counter()  # (op, v3's code) of each disagreement
    in_v3: set[int] = set()

    def write(op: str, reply: dict[str, Any], v3_code: int) -> None:
        """One write v1 did (the app's answer), then the outbox settles it on v3; the test's own verdict."""
        assert reply["code"] == 0, (op, reply)  # v1 answered the app
        world.drain()
        compared[op] += 1
        if v3_code == 0:
            agreed[op] += 1
        else:
            refusals[(op, v3_code)] += 1

    for s in range(PERSONS):
        if s in REFUSED_NEWPERSON:
            arm(world, "CreatePerson", "InvalidParameterValue.NoFaceInPhoto")
        if s == THROTTLED_NEWPERSON:
            arm(world, "CreatePerson", "InternalError")
        reply = client.face_newperson(person(s), [GROUP], CIBuffer(subject_photo(s, 0)), f"N{s}", f"t{s}")
        write("newperson", reply, -1101 if s in REFUSED_NEWPERSON else 0)
        if s not in REFUSED_NEWPERSON:
            in_v3.add(s)
    for s in range(PERSONS):  # v3 lacks the persons it refused: their later writes cannot agree
        write("addface", client.face_addface(person(s), CIBuffers([subject_photo(s, 1)])), 0 if s in in_v3 else -1303)
    for s in range(PERSONS):
        if s == REFUSED_SETINFO:
            arm(world, "ModifyPersonBaseInfo", "ResourceNotFound.PersonIdNotExist")
        code = 0 if s in in_v3 and s != REFUSED_SETINFO else -1303
        write("setinfo", client.face_setinfo(person(s), f"Renamed {s}", f"t{s}b"), code)
    # delperson of a person v3 never had: v3 says "gone" (-1303), which is what was asked: agreed
    for s in (0, 3):
        write("delperson", client.face_delperson(person(s)), 0)
    # a write v1 refuses is owed to no one: nothing to compare
    assert client.face_newperson(person(1), [GROUP], CIBuffer(subject_photo(1, 0)))["code"] == -1302
    world.drain()
    # route v3: v3 serves, v1 is the side the outbox settles (the comparison is still v1's code against v3's)
    world.route(DUAL, "v3")
    for s in (1, 4):
        write("setinfo", client.face_setinfo(person(s), f"Back {s}", None), 0)
    assert world.legacy_person(DUAL, person(4)).name == "Back 4"
    assert world.outbox_failures() == sum(refusals.values())
    with urllib.request.urlopen(f"{world.v3.url}/_emulator/rules", timeout=10) as reply:  # noqa: S310
        assert json.loads(reply.read())["rules"] == []  # every armed fault met a replay

    def rows() -> dict[str, dict[str, Any]]:
        return {r["op"]: r for r in report_of(world, tmp_path)["rows"] if r["tenant"] == DUAL.appid}

    deadline = time.monotonic() + 30
    while {op: r["v3"]["compared"] for op, r in rows().items()} != dict(compared):  # the ledger: every 0.5 s
        assert time.monotonic() < deadline, "the settled writes never reached the ledger"
        time.sleep(0.1)
    report = report_of(world, tmp_path)
    mine = {r["op"]: r for r in report["rows"] if r["tenant"] == DUAL.appid}
    assert set(mine) == {"newperson", "addface", "setinfo", "delperson"}
    for op, row in mine.items():
        v3 = row["v3"]
        assert (v3["compared"], v3["agreed"], v3["disagreed"]) == (compared[op], agreed[op], compared[op] - agreed[op])
        assert dict(map(tuple, v3["by_kind"])) == (
            {"outcome": compared[op] - agreed[op]} if agreed[op] < compared[op] else {}
        )
        assert row["noise"]["compared"] == 0  # a write is never replayed to v1 twice
        sides = {side["side"]: side["count"] for side in row["latency_ms"]}
        assert sides == {"v1": compared[op], "v3": compared[op]}
        assert not row["ready"]  # fewer than ready_min_comparisons
    figures = {op: (row["v3"]["agreed"], row["v3"]["compared"]) for op, row in mine.items()}
    assert figures == {"newperson": (8, 10), "addface": (8, 10), "setinfo": (9, 12), "delperson": (2, 2)}  # README

    samples = [d for d in report["disagreements"] if d["tenant"] == DUAL.appid]
    assert Counter((d["op"], d["candidate_code"]) for d in samples) == refusals
    for d in samples:
        assert (d["control_code"], d["against"], d["differences"]) == (0, "v3", ["outcome"])
        assert d["detail"].startswith(f"code 0 vs {d['candidate_code']}: v3 refused after 1 attempt (outbox entry ")
