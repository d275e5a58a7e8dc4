"""The unmodified legacy SDK runs whole sessions through each route, and through a live forward migration
v1 -> shadow -> canary 10% -> canary 100% -> v3 and a rollback to v1, with the config reloaded between steps."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from qcloud_image import CIBuffer, CIBuffers, Client
from qcloud_image.auth import Auth

from proxy.admin.health import readiness
from proxy.app import METRICS
from proxy.emulator.faults import FaultConfig
from proxy.emulator.synthetic import subject_photo
from proxy.migration.engine import ShadowPair
from tests.migration.staged import BUCKET, App, StagedWorld, staged_world

ROUTES_APP = App("1250000011", "AKIDroutes", "key-routes")
LIVE_APP = App("1250000012", "AKIDlive", "key-live")
RETIRE_APP = App("1250000013", "AKIDretire", "key-retire")
DEFAULT_APP = App("1250000014", "AKIDdefault", "key-default")  # never listed: follows default_route
LEGACY_SESSION = re.compile(r"[0-9a-f]{32}")  # the legacy service's session ids (v3's are UUIDs)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagedWorld]:
    yield from staged_world(tmp_path_factory.mktemp("staged"), (ROUTES_APP, LIVE_APP, RETIRE_APP, DEFAULT_APP))


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply.get("code") == 0 and reply.get("httpcode") == 200, reply
    data = reply["data"]
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class Person:
    name: str
    tag: str
    faces: int
    groups: tuple[str, ...]


def session(client: Client, tag: str, subject: int = 0) -> dict[str, Person]:
    """A whole legacy session: enrol, add faces, verify, identify, compare, set/get info, delete. Every
    answer is one v1 would give. Returns who should exist afterwards."""
    ann, bob, gone, group = f"{tag}-ann", f"{tag}-bob", f"{tag}-gone", f"{tag}-g"
    a, b = subject, subject + 1
    ok(client.face_newperson(ann, [group], CIBuffer(subject_photo(a, 0)), "Ann", "t1"))
    ok(client.face_newperson(bob, [group], CIBuffer(subject_photo(b, 0)), "Bob"))
    assert ok(client.face_addface(ann, CIBuffers([subject_photo(a, 1)])))["ret_codes"] == [0]
    added = ok(client.face_addface(bob, CIBuffers([subject_photo(b, 1), subject_photo(b, 2)]), "face tag"))
    assert added["added"] == 2
    same = ok(client.face_verify(ann, CIBuffer(subject_photo(a, 2))))
    assert same["ismatch"] is True and isinstance(same["confidence"], float)
    assert ok(client.face_verify(bob, CIBuffer(subject_photo(a, 3))))["ismatch"] is False
    top = ok(client.face_identify(group, CIBuffer(subject_photo(b, 3))))["candidates"][0]
    assert top["person_id"] == bob
    assert ok(client.face_compare(CIBuffer(subject_photo(a, 0)), CIBuffer(subject_photo(a, 1))))["similarity"] >= 80
    assert ok(client.face_compare(CIBuffer(subject_photo(a, 0)), CIBuffer(subject_photo(b, 1))))["similarity"] < 80
    ok(client.face_setinfo(ann, "Ann Lee", "t2"))
    info = ok(client.face_getinfo(ann))
    assert (info["person_name"], info["tag"], len(info["face_ids"]), info["group_ids"]) == ("Ann Lee", "t2", 2, [group])
    assert sorted(ok(client.face_getpersonids(group))["person_ids"]) == sorted([ann, bob])
    faces = ok(client.face_getfaceids(bob))["face_ids"]
    assert len(faces) == 3
    assert ok(client.face_delface(bob, [faces[-1]]))["deleted"] == 1
    ok(client.face_getfaceinfo(info["face_ids"][0]))
    ok(client.face_newperson(gone, [group], CIBuffer(subject_photo(a + 2, 0))))
    ok(client.face_delperson(gone))
    assert client.face_getinfo(gone)["code"] == -1303
    return {ann: Person("Ann Lee", "t2", 2, (group,)), bob: Person("Bob", "", 2, (group,))}


def read_back(client: Client, people: dict[str, Person]) -> None:
    for person_id, want in people.items():
        info = ok(client.face_getinfo(person_id))
        got = Person(info["person_name"], info["tag"], len(info["face_ids"]), tuple(info["group_ids"]))
        assert got == want, person_id
        assert ok(client.face_verify(person_id, CIBuffer(subject_photo(0, 5))))["session_id"]


def test_v1_route_is_a_verbatim_passthrough(world: StagedWorld) -> None:
    world.route(ROUTES_APP, "v1")
    before = world.v3_person_count()
    people = session(ROUTES_APP.client(), "v1")
    reply = ROUTES_APP.client().face_getinfo("v1-ann")
    assert LEGACY_SESSION.fullmatch(reply["data"]["session_id"])  # the legacy service's own reply
    assert list(reply) == ["data", "code", "message", "httpcode"]  # its key order, not the proxy's renderer
    world.drain()
    assert world.v3_person_count() == before  # nothing reached v3
    for person_id in people:
        assert world.legacy_person(ROUTES_APP, person_id) is not None


def test_shadow_answers_from_v1_and_fills_v3(world: StagedWorld) -> None:
    world.route(ROUTES_APP, "shadow")
    world.shadow_pairs.clear()
    before = world.v3_person_count()
    people = session(ROUTES_APP.client(), "sh")
    assert LEGACY_SESSION.fullmatch(ROUTES_APP.client().face_getinfo("sh-ann")["data"]["session_id"])
    world.drain()
    assert world.outbox_failures() == 0
    assert world.v3_person_count() == before + len(people)  # every write reached v3 (gone was deleted there too)
    # the comparator hook saw both answers of the shadowed reads
    getinfo = [p for p in world.shadow_pairs if p.op == "getinfo" and p.call.request.person_id == "sh-ann"]  # type: ignore[union-attr]
    assert getinfo and all(isinstance(p, ShadowPair) for p in getinfo)
    last = getinfo[-1]
    assert last.v1.code == 0 and last.v3_error is None and last.v3_result is not None
    assert last.v3_result.person_name == "Ann Lee"  # type: ignore[union-attr]
    # then v3 answers them alone
    world.route(ROUTES_APP, "v3")
    read_back(ROUTES_APP.client(), people)


def test_canary_splits_subjects_and_writes_reach_both(world: StagedWorld) -> None:
    world.route(ROUTES_APP, "canary 50%")
    people: dict[str, Person] = {}
    for n in range(4):
        people |= session(ROUTES_APP.client(), f"c{n}")
    world.drain()
    assert world.outbox_failures() == 0
    for person_id in people:
        assert world.legacy_person(ROUTES_APP, person_id) is not None
    world.route(ROUTES_APP, "v1")
    read_back(ROUTES_APP.client(), people)
    world.route(ROUTES_APP, "v3")
    read_back(ROUTES_APP.client(), people)


def test_v3_feeds_v1_until_retire_v1(world: StagedWorld) -> None:
    client = RETIRE_APP.client()
    world.route(RETIRE_APP, "v3")
    people = session(client, "r")
    world.drain()
    assert all(world.legacy_person(RETIRE_APP, p) is not None for p in people)
    world.route(RETIRE_APP, "v3", retire_v1=True)
    ok(client.face_newperson("r-late", ["r-g"], CIBuffer(subject_photo(3, 0))))
    world.drain()
    assert world.legacy_person(RETIRE_APP, "r-late") is None
    assert ok(client.face_getinfo("r-late"))["person_id"] == "r-late"


def test_live_forward_migration_and_rollback_lose_nothing(world: StagedWorld) -> None:
    client = LIVE_APP.client()
    people: dict[str, Person] = {}
    world.route(LIVE_APP, "v1")
    people |= session(client, "s1")  # enrolled before the migration: only v1 ever holds them
    for step, route in enumerate(("shadow", "canary 10%", "canary 100%", "v3"), start=2):
        world.route(LIVE_APP, route)
        people |= session(client, f"s{step}", subject=step % 3)
        read_back(client, people)  # the v1-only people of step 1 are still answered (data-aware)
    taken = client.face_newperson("s1-ann", ["s1-g"], CIBuffer(subject_photo(0, 4)))
    assert (taken["code"], taken["httpcode"]) == (-1302, 200)  # v1 holds that id: v1's own answer
    ok(client.face_setinfo("s1-ann", "Renamed in v3", "t9"))  # a write about a v1-only person, in v3
    people["s1-ann"] = Person("Renamed in v3", "t9", 2, ("s1-g",))
    world.drain()
    world.route(LIVE_APP, "v1")  # rollback
    read_back(client, people)
    for person_id in people:
        assert world.legacy_person(LIVE_APP, person_id) is not None


FAULTY_APP = ROUTES_APP


def _metric(world: StagedWorld, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = world.app[METRICS].render().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_canary_read_falls_back_to_v1_when_v3_fails(world: StagedWorld) -> None:
    client = FAULTY_APP.client()
    world.route(FAULTY_APP, "shadow")
    ok(client.face_newperson("fb-ann", ["fb-g"], CIBuffer(subject_photo(1, 0))))
    world.drain()
    world.route(FAULTY_APP, "canary 100%")
    before = _metric(world, "v1proxy_migration_fallbacks_total", tenant=FAULTY_APP.appid, op="verify")
    world.v3.emulator.faults.configure(FaultConfig(internal_error_rate=1.0))
    try:
        reply = ok(client.face_verify("fb-ann", CIBuffer(subject_photo(1, 2))))
        assert LEGACY_SESSION.fullmatch(reply["session_id"]) and reply["ismatch"] is True  # v1 answered
        failed_write = client.face_setinfo("fb-ann", "x")  # writes never fall back: the app sees v3's failure
        assert failed_write["code"] == 213
    finally:
        world.v3.emulator.faults.configure(FaultConfig())
    assert _metric(world, "v1proxy_migration_fallbacks_total", tenant=FAULTY_APP.appid, op="verify") == before + 1
    v3_answer = ok(client.face_verify("fb-ann", CIBuffer(subject_photo(1, 2))))
    assert not LEGACY_SESSION.fullmatch(v3_answer["session_id"])  # v3 answers again


def test_metrics_count_routes_sides_and_redirects(world: StagedWorld) -> None:
    client = LIVE_APP.client()
    world.route(LIVE_APP, "v1")
    ok(client.face_newperson("m-old", ["m-g"], CIBuffer(subject_photo(2, 0))))
    world.route(LIVE_APP, "v3")
    before = _metric(world, "v1proxy_migration_data_aware_redirects_total", tenant=LIVE_APP.appid, op="getinfo")
    assert ok(client.face_getinfo("m-old"))["person_id"] == "m-old"  # only v1 has it
    assert (
        _metric(world, "v1proxy_migration_data_aware_redirects_total", tenant=LIVE_APP.appid, op="getinfo")
        == before + 1
    )
    labels = {"tenant": LIVE_APP.appid, "op": "getinfo", "route": "v3", "side": "v1", "reason": "not_in_v3"}
    assert _metric(world, "v1proxy_migration_requests_total", **labels) >= 1
    ok(client.face_newperson("m-new", ["m-g"], CIBuffer(subject_photo(2, 1))))  # served by v3, owed to v1
    world.drain()
    assert _metric(world, "v1proxy_outbox_depth") == 0
    assert _metric(world, "v1proxy_outbox_enqueued_total", target="v1", op="newperson") >= 1


def test_readiness_reports_an_unreachable_legacy_backend(world: StagedWorld) -> None:
    async def checks() -> dict[str, Any]:
        found = await readiness(world.app, draining=False, upstream=_no_probe)
        return {c.name: c for c in found}

    assert world.loop.run(checks())["legacy_v1"].ok is True
    endpoint = world.config["migration"]["legacy"]["endpoint"]
    world.config["migration"]["legacy"]["endpoint"] = "http://127.0.0.1:9"  # nothing listens there
    try:
        world.route(ROUTES_APP, "v1")
        legacy = world.loop.run(checks())["legacy_v1"]
        assert legacy.ok is False and legacy.detail
        reply = ROUTES_APP.client().face_getinfo("anyone")
        assert (reply["code"], reply["httpcode"]) == (213, 502)  # an unreachable v1 is never a hang or a 500
    finally:
        world.config["migration"]["legacy"]["endpoint"] = endpoint
        world.route(ROUTES_APP, "v1")


async def _no_probe(app: Any) -> None:
    return None


def test_face_ids_minted_by_v1_keep_working_once_v3_answers(world: StagedWorld) -> None:
    client = RETIRE_APP.client()
    world.route(RETIRE_APP, "shadow")
    first = ok(client.face_newperson("fid-ann", ["fid-g"], CIBuffer(subject_photo(0, 0))))["face_id"]
    second = ok(client.face_addface("fid-ann", CIBuffers([subject_photo(0, 1)])))["face_ids"][0]
    assert re.fullmatch(r"\d{19}", first)  # v1's face ids
    world.drain()
    failures = world.outbox_failures()
    world.route(RETIRE_APP, "v3")
    info = ok(client.face_getfaceinfo(first))["face_info"]
    assert info["face_id"] == first  # answered by v3, under the id the app knows
    person = ok(client.face_getinfo("fid-ann"))
    assert not LEGACY_SESSION.fullmatch(person["session_id"]) and person["face_ids"] == [first, second]
    assert ok(client.face_getfaceids("fid-ann"))["face_ids"] == [first, second]
    top = ok(client.face_identify("fid-g", CIBuffer(subject_photo(0, 2))))["candidates"][0]
    assert top["face_id"] in (first, second)
    assert ok(client.face_delface("fid-ann", [second])) | {"session_id": ""} == {
        "deleted": 1,
        "face_ids": [second],
        "session_id": "",
    }
    world.drain()
    assert world.outbox_failures() == failures
    assert [f.face_id for f in world.legacy_person(RETIRE_APP, "fid-ann").faces] == [first]  # v1 deleted the same face
    assert len(ok(client.face_getfaceids("fid-ann"))["face_ids"]) == 1


def test_an_op_can_stay_behind_on_its_own_route(world: StagedWorld) -> None:
    client = RETIRE_APP.client()
    world.route(RETIRE_APP, "shadow")
    ok(client.face_newperson("op-ann", ["op-g"], CIBuffer(subject_photo(1, 0))))
    world.drain()
    world.route(RETIRE_APP, "v3", ops={"identify": "v1"})
    identified = ok(client.face_identify("op-g", CIBuffer(subject_photo(1, 1))))
    assert LEGACY_SESSION.fullmatch(identified["session_id"])  # identify stays on v1
    verified = ok(client.face_verify("op-ann", CIBuffer(subject_photo(1, 1))))
    assert not LEGACY_SESSION.fullmatch(verified["session_id"])  # the rest of the tenant is on v3


def test_v1_passthrough_forwards_the_apps_bytes_and_returns_v1s_bytes(world: StagedWorld) -> None:
    world.route(ROUTES_APP, "v1")
    auth = Auth(ROUTES_APP.appid, ROUTES_APP.secret_id, ROUTES_APP.secret_key).get_sign(BUCKET, 60).decode()
    boundary = "----legacy-app-boundary"
    fields = {"appid": ROUTES_APP.appid, "bucket": BUCKET, "person_id": "vb-ann", "group_ids[0]": "vb-g"}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'.encode()
    body += subject_photo(2, 0) + f"\r\n--{boundary}--\r\n".encode()
    for host in ("service.image.myqcloud.com", "recognition.image.myqcloud.com"):
        headers = {"Authorization": auth, "Content-Type": f"multipart/form-data; boundary={boundary}", "Host": host}
        reply = requests.post(f"http://{world.proxy_address}/face/newperson", data=body, headers=headers, timeout=30)
        seen = world.legacy.legacy.exchanges[-1]
        assert (seen.body, seen.authorization, seen.host, seen.content_type) == (
            body,
            auth,
            host,
            headers["Content-Type"],
        )
        assert (reply.content, reply.status_code) == (seen.reply, seen.status)
        assert reply.headers["Content-Type"] == "application/json"
    # the service host enrolled her; the recognition host has no newperson: v1's own 404 came back as is
    assert json.loads(world.legacy.legacy.exchanges[-2].reply)["code"] == 0
    assert (reply.status_code, reply.json()["code"]) == (404, 3)


def test_default_route_applies_to_tenants_not_listed(world: StagedWorld) -> None:
    client = DEFAULT_APP.client()
    ok(client.face_newperson("dr-ann", ["dr-g"], CIBuffer(subject_photo(0, 0))))
    assert LEGACY_SESSION.fullmatch(ok(client.face_getinfo("dr-ann"))["session_id"])  # default_route v1
    world.config["migration"]["default_route"] = "v3"
    try:
        world.reload()
        created = ok(client.face_newperson("dr-bob", ["dr-g"], CIBuffer(subject_photo(1, 0))))
        assert not LEGACY_SESSION.fullmatch(created["session_id"])  # now v3 answers the tenant
    finally:
        world.config["migration"]["default_route"] = "v1"
        world.reload()


def test_legacy_read_timeout_bounds_a_slow_v1(world: StagedWorld) -> None:
    world.route(ROUTES_APP, "v1")
    world.config["migration"]["legacy"]["read_timeout"] = 0.2
    world.legacy.legacy.latency_s = 1.0
    try:
        world.reload()
        started = time.monotonic()
        reply = ROUTES_APP.client().face_getinfo("anyone")
        assert (reply["code"], reply["httpcode"]) == (213, 502)
        assert time.monotonic() - started < 0.9
    finally:
        world.legacy.legacy.latency_s = 0.0
        world.config["migration"]["legacy"]["read_timeout"] = 30
        world.reload()
    assert ROUTES_APP.client().face_getinfo("anyone")["code"] == -1303


def test_outbox_gives_up_after_max_attempts(world: StagedWorld) -> None:
    client = RETIRE_APP.client()
    world.route(RETIRE_APP, "v3")
    endpoint = world.config["migration"]["legacy"]["endpoint"]
    world.config["migration"]["legacy"]["endpoint"] = "http://127.0.0.1:9"  # v1 down: replays to v1 fail
    world.config["migration"]["outbox"]["max_attempts"] = 3
    failures = world.outbox_failures()
    try:
        world.reload()
        ok(client.face_newperson("ma-ann", ["ma-g"], CIBuffer(subject_photo(2, 0))))  # served by v3, owed to v1
        world.drain()
        assert world.outbox_failures() == failures + 1
    finally:
        world.config["migration"]["legacy"]["endpoint"] = endpoint
        del world.config["migration"]["outbox"]["max_attempts"]
        world.reload()
    assert world.legacy_person(RETIRE_APP, "ma-ann") is None
