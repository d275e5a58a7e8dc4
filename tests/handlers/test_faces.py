"""addface / delface / getfaceinfo failure paths, driven through the real emulator with per-request fault rules."""

from __future__ import annotations

import pytest
import structlog

from proxy.domain.codes import V1Error
from proxy.domain.faces import NO_ATTRIBUTES
from proxy.domain.requests import AddFace, DelFace, GetFaceInfo, NewPerson
from proxy.handlers import faces
from proxy.handlers.ops import ADDFACE, DELFACE, GETFACEINFO, NEWPERSON
from tests.handlers.conftest import World, photo, uid


async def enrol(world: World, subject: int) -> tuple[str, str]:
    person = uid("p")
    created = await world.run(NEWPERSON, NewPerson(person, (uid("g"),), photo(subject, 0), None, None))
    return person, created.face_id


async def test_detectface_failing_during_addface_still_adds_the_face_with_zero_attributes(world: World) -> None:
    person, _ = await enrol(world, 0)
    await world.fail("DetectFace", "InternalError")
    with structlog.testing.capture_logs() as logged:
        added = await world.run(ADDFACE, AddFace(person, (photo(0, 1),), "t"))
    assert (added.added, added.ret_codes) == (1, (0,))
    warnings = [e for e in logged if e["log_level"] == "warning"]
    assert [(e["event"], e["v3_code"]) for e in warnings] == [("face_attributes_unavailable", "InternalError")]
    info = await world.run(GETFACEINFO, GetFaceInfo(added.face_ids[0]))
    assert info.face_info.attributes == NO_ATTRIBUTES  # the face is the proxy's; its attributes are unknown
    assert await world.pending_rules() == []


async def test_a_later_batch_failing_after_an_earlier_one_landed_reports_both(world: World) -> None:
    person, first = await enrol(world, 1)
    # 6 images: batch 1 (5) meets v3's 5-face limit (4 fit, the 5th gets -1309), batch 2 (1) fails upstream
    await world.fail("CreateFace", "InternalError", skip=2)
    images = tuple(photo(1, i) for i in range(1, 7))
    added, calls = await world.run_recorded(ADDFACE, AddFace(person, images, None))
    assert added.added == 4
    assert added.ret_codes == (0, 0, 0, 0, -1309, 213)
    creates = [(c.action, c.code) for c in calls if c.action in ("CreateFace", "GetPersonBaseInfo")]
    assert creates == [
        ("CreateFace", "InvalidParameterValue.PersonFaceNumExceed"),
        ("GetPersonBaseInfo", ""),
        ("CreateFace", ""),
        ("CreateFace", "InternalError"),
    ]
    # what landed is the proxy's too: every added face answers getfaceinfo
    for face_id in added.face_ids:
        assert (await world.run(GETFACEINFO, GetFaceInfo(face_id))).face_info.face_id == face_id
    assert first not in added.face_ids


async def test_a_first_batch_failing_is_the_ops_error(world: World) -> None:
    person, _ = await enrol(world, 2)
    await world.fail("CreateFace", "InternalError")
    with pytest.raises(V1Error) as info:
        await world.run(ADDFACE, AddFace(person, (photo(2, 1),), None))
    assert (info.value.code, info.value.http_status) == (213, 502)
    assert info.value.session_id  # the v3 RequestId, for a support ticket


async def test_a_concurrent_writer_is_retried_until_it_lets_go(world: World) -> None:
    person, _ = await enrol(world, 3)
    await world.fail("CreateFace", "FailedOperation.CreateFaceConcurrent", times=len(faces.CONCURRENT_RETRIES))
    added, calls = await world.run_recorded(ADDFACE, AddFace(person, (photo(3, 1),), None))
    assert (added.added, added.ret_codes) == (1, (0,))
    codes = [c.code for c in calls if c.action == "CreateFace"]
    assert codes == ["FailedOperation.CreateFaceConcurrent"] * len(faces.CONCURRENT_RETRIES) + [""]


async def test_a_concurrent_writer_that_never_lets_go_is_throttling(world: World) -> None:
    person, _ = await enrol(world, 4)
    await world.fail("CreateFace", "FailedOperation.CreateFaceConcurrent", times=len(faces.CONCURRENT_RETRIES) + 1)
    with pytest.raises(V1Error) as info:
        await world.run(ADDFACE, AddFace(person, (photo(4, 1),), None))
    assert (info.value.code, info.value.http_status) == (15, 429)


async def test_deleting_the_last_face_says_v3_keeps_one(world: World) -> None:
    person, face_id = await enrol(world, 5)
    with pytest.raises(V1Error) as info:
        await world.run(DELFACE, DelFace(person, (face_id,)))
    assert (info.value.code, info.value.http_status) == (-1309, 200)
    assert "v3 keeps at least one face per person" in info.value.message
    assert (await world.run(GETFACEINFO, GetFaceInfo(face_id))).face_info.face_id == face_id
