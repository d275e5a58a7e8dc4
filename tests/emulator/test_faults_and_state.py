"""Fault injection, concurrent CreateFace, persistence, and the rules that need no SDK round trip."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from proxy.emulator.app import EmulatorConfig, create_emulator_app, start_emulator
from proxy.emulator.faults import FaultConfig, FaultInjector, FaultRule, FaultRules, Outcome
from proxy.emulator.routes import EMULATOR
from proxy.emulator.synthetic import blank_image, gif_photo, subject_photo, tiny_photo
from tests.emulator.conftest import SECRET_ID, SECRET_KEY
from tests.emulator.test_wire import signed

CONFIG = EmulatorConfig(credentials=((SECRET_ID, SECRET_KEY),))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def call(http: Any, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    host = f"{http.server.host}:{http.server.port}"
    response = await http.post("/", data=body, headers=signed(host, action, body))
    return dict(json.loads(await response.read())["Response"])


def test_faults_are_deterministic_with_a_seed() -> None:
    config = FaultConfig(internal_error_rate=0.2, timeout_rate=0.2, drop_rate=0.1, malformed_rate=0.1, seed=7)
    first = [FaultInjector(config).decide() for _ in range(1)]
    a, b = FaultInjector(config), FaultInjector(config)
    seq_a, seq_b = [a.decide().outcome for _ in range(200)], [b.decide().outcome for _ in range(200)]
    assert seq_a == seq_b and first
    assert {Outcome.SERVE, Outcome.INTERNAL_ERROR, Outcome.TIMEOUT, Outcome.DROP, Outcome.MALFORMED} <= set(seq_a)


def test_qps_limit() -> None:
    now = [0.0]
    injector = FaultInjector(FaultConfig(qps_limit=3), clock=lambda: now[0])
    outcomes = [injector.decide().outcome for _ in range(5)]
    assert outcomes == [Outcome.SERVE] * 3 + [Outcome.RATE_LIMITED] * 2
    now[0] = 1.5
    assert injector.decide().outcome is Outcome.SERVE


async def test_faults_on_the_wire_and_control_endpoint(aiohttp_client: Any) -> None:
    http = await aiohttp_client(create_emulator_app(CONFIG))
    for settings, code in (
        ({"internal_error_rate": 1.0}, "InternalError"),
        ({"timeout_rate": 1.0}, "FailedOperation.RequestTimeout"),
        ({"qps_limit": 1}, None),
    ):
        posted = await http.post("/_emulator/faults", json={"reset": True, **settings})
        assert posted.status == 200
        if code:
            assert (await call(http, "GetGroupList", {}))["Error"]["Code"] == code
        else:
            await call(http, "GetGroupList", {})
            assert (await call(http, "GetGroupList", {}))["Error"]["Code"] == "RequestLimitExceeded"
    await http.post("/_emulator/faults", json={"reset": True, "malformed_rate": 1.0})
    response = await http.post("/", data=b"{}")
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    assert not (await response.text()).endswith("}")
    await http.post("/_emulator/faults", json={"reset": True, "drop_rate": 1.0})
    try:
        await http.post("/", data=b"{}")
        dropped = False
    except Exception:
        dropped = True
    assert dropped
    await http.post("/_emulator/faults", json={"reset": True, "latency_ms": 50})
    assert (await (await http.get("/_emulator/faults")).json())["latency_ms"] == 50
    loop = asyncio.get_running_loop()
    start = loop.time()
    await call(http, "GetGroupList", {})
    assert loop.time() - start >= 0.05
    assert (await http.post("/_emulator/faults", json={"drop_rate": 2})).status == 400


async def test_concurrent_create_face_is_refused(aiohttp_client: Any) -> None:
    http = await aiohttp_client(create_emulator_app(CONFIG))
    await call(http, "CreateGroup", {"GroupId": "g", "GroupName": "G"})
    await call(
        http,
        "CreatePerson",
        {"GroupId": "g", "PersonId": "p", "PersonName": "P", "Image": b64(subject_photo(0, 0))},
    )
    http.server.app[EMULATOR].faults.configure(FaultConfig(latency_ms=200))
    one, two = await asyncio.gather(
        call(http, "CreateFace", {"PersonId": "p", "Images": [b64(subject_photo(0, 1))]}),
        call(http, "CreateFace", {"PersonId": "p", "Images": [b64(subject_photo(0, 2))]}),
    )
    assert one["SucFaceNum"] == 1
    assert two["Error"]["Code"] == "FailedOperation.CreateFaceConcurrent"


async def test_rules(aiohttp_client: Any) -> None:
    http = await aiohttp_client(create_emulator_app(CONFIG))

    async def code(action: str, **payload: Any) -> str:
        return str((await call(http, action, payload)).get("Error", {}).get("Code", "OK"))

    assert await code("CreateGroup", GroupId="g", GroupName="G", GroupExDescriptions=["a"]) == "OK"
    assert await code("CreateGroup", GroupId="g", GroupName="H") == "InvalidParameterValue.GroupIdAlreadyExist"
    assert await code("CreateGroup", GroupId="h", GroupName="G") == "InvalidParameterValue.GroupNameAlreadyExist"
    assert await code("CreateGroup", GroupId="a b", GroupName="X") == "InvalidParameterValue.GroupIdIllegal"
    assert await code("CreateGroup", GroupId="x" * 65, GroupName="X") == "InvalidParameterValue.GroupIdTooLong"
    assert await code("CreateGroup", GroupId="x", GroupName="n" * 61) == "InvalidParameterValue.GroupNameTooLong"
    assert (
        await code("CreateGroup", GroupId="x", GroupName="X", GroupExDescriptions=list("abcdef"))
        == "InvalidParameterValue.GroupExDescriptionsExceed"
    )
    img = b64(subject_photo(1, 0))
    assert (
        await code("CreatePerson", GroupId="nope", PersonId="p", PersonName="P", Image=img)
        == "InvalidParameterValue.GroupIdNotExist"
    )
    assert (
        await code("CreatePerson", GroupId="g", PersonId="p", PersonName="", Image=img)
        == "InvalidParameterValue.PersonNameIllegal"
    )
    assert (
        await code(
            "CreatePerson",
            GroupId="g",
            PersonId="p",
            PersonName="P",
            Image=img,
            PersonExDescriptionInfos=[{"PersonExDescriptionIndex": 3, "PersonExDescription": "x"}],
        )
        == "InvalidParameterValue.PersonExDescriptionInfosExceed"
    )
    assert await code("CreatePerson", GroupId="g", PersonId="p", PersonName="P", Image=img) == "OK"
    assert await code("CreateGroup", GroupId="g2", GroupName="G2") == "OK"
    assert (
        await code("CreatePerson", GroupId="g2", PersonId="p", PersonName="P", Image=img)
        == "InvalidParameterValue.PersonIdAlreadyExist"
    )
    for image, expected in (
        (b64(blank_image()), "InvalidParameterValue.NoFaceInPhoto"),
        (b64(gif_photo()), "FailedOperation.ImageDecodeFailed"),
        (b64(tiny_photo()), "FailedOperation.ImageResolutionTooSmall"),
        ("@@notbase64@@", "FailedOperation.ImageDecodeFailed"),
        ("A" * (5 * 1024 * 1024 + 4), "FailedOperation.ImageSizeExceed"),
    ):
        assert await code("DetectFace", Image=image) == expected, expected
    assert await code("DetectFace", Url="http://127.0.0.1:1/x.jpg") == "FailedOperation.ImageDownloadError"
    faces = await call(
        http,
        "CreateFace",
        {
            "PersonId": "p",
            "Images": [
                b64(subject_photo(1, 1)),
                b64(blank_image()),
                b64(subject_photo(2, 0)),
                b64(subject_photo(1, 1)),
            ],
        },
    )
    assert faces["RetCode"] == [0, -1101, -1604, -1312] and faces["SucIndexes"] == [0]
    assert await code("CreateFace", PersonId="p", Images=[img] * 6) == "InvalidParameterValue.UploadFaceNumExceed"
    assert await code("CreateFace", PersonId="p", Images=[img] * 4) == "InvalidParameterValue.PersonFaceNumExceed"
    for i in range(101):
        await call(http, "CreateGroup", {"GroupId": f"m{i}", "GroupName": f"M{i}"})
    assert await code("CopyPerson", PersonId="p", GroupIds=[f"m{i}" for i in range(99)]) == "OK"
    assert (
        await code("CopyPerson", PersonId="p", GroupIds=["m99", "m100"])
        == "InvalidParameterValue.GroupNumPerPersonExceed"
    )


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    config = EmulatorConfig(credentials=((SECRET_ID, SECRET_KEY),), state_file=path)
    first = await start_emulator(config)
    state = first.emulator.state
    group = state.create_group("g", "G", [], "", "3.0")
    face = state.model.analyze(subject_photo(0, 0)).faces[0]
    _, record = state.add_person(group, "p", "P", 1, [], face, subject_photo(0, 0))
    await first.close()
    assert path.exists() and not list(tmp_path.glob("*.tmp"))  # noqa: ASYNC240
    second = await start_emulator(config)
    try:
        person = second.emulator.state.person("p")
        assert [f.face_id for f in person.faces] == [record.face_id] and "p" in second.emulator.state.groups[
            "g"
        ].members
    finally:
        await second.close()


def test_fault_rules_are_a_queue_per_action() -> None:
    rules = FaultRules()
    rules.add(
        [FaultRule("CreateFace", "A", skip=1, times=1), FaultRule("CreateFace", "B"), FaultRule("DetectFace", "C")]
    )
    assert [r.code if r else None for r in (rules.match("CreateFace") for _ in range(4))] == [None, "A", "B", None]
    assert rules.pending() == [
        {"action": "DetectFace", "code": "C", "message": "Injected by a fault rule.", "skip": 0, "times": 1}
    ]
    assert rules.match("DetectFace") is not None and rules.pending() == []
    bad: object
    for bad in ({"action": "X"}, {"action": "X", "code": "Y", "times": -1}, {"action": "X", "code": "Y", "z": 1}, []):
        with pytest.raises(ValueError):
            FaultRule.from_json(bad)
