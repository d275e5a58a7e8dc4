"""verify / identify / compare through the real emulator: calibrated scores, tags, and which image failed."""

from __future__ import annotations

import pytest

from proxy.domain.codes import V1Error
from proxy.domain.requests import AddFace, Compare, Identify, NewPerson, Verify
from proxy.handlers.ops import ADDFACE, COMPARE, IDENTIFY, NEWPERSON, VERIFY
from proxy.translate.recognition import verify_to_v3
from proxy.translate.scores import FAR_MATCHED, Calibration
from tests.handlers.conftest import World, photo, uid

FAR_MATCHED_CALIBRATION = Calibration(FAR_MATCHED, 80.0)


@pytest.mark.parametrize(("detect_a_fails", "fail_flag"), [(True, 1), (False, 2)])
async def test_compare_says_which_image_failed(world: World, detect_a_fails: bool, fail_flag: int) -> None:
    await world.fail("CompareFace", "FailedOperation.ImageDecodeFailed")
    if detect_a_fails:
        await world.fail("DetectFace", "FailedOperation.ImageDecodeFailed")
    with pytest.raises(V1Error) as info:
        await world.run(COMPARE, Compare(photo(0, 0), photo(0, 1)))
    assert (info.value.code, info.value.fail_flag) == (-1102, fail_flag)


async def test_compare_failing_otherwise_asks_no_detectface(world: World) -> None:
    await world.fail("CompareFace", "InternalError")
    with pytest.raises(V1Error) as info:
        await world.run(COMPARE, Compare(photo(0, 0), photo(0, 1)))
    assert (info.value.code, info.value.fail_flag) == (213, None)
    assert await world.pending_rules() == []


async def test_verify_and_identify_answer_on_the_v1_scale_with_the_faces_tag(world: World) -> None:
    person, group = uid("p"), uid("g")
    await world.run(NEWPERSON, NewPerson(person, (group,), photo(5, 0), None, "person tag"))
    added = await world.run(ADDFACE, AddFace(person, (photo(5, 1),), "face tag"))
    request = Verify(person, photo(5, 2))
    verified = await world.run(VERIFY, request)
    raw = await world.services.v3.call("VerifyFace", verify_to_v3(request, world.scope))  # v3's own score
    score = float(raw.data["Score"])
    assert verified.confidence == FAR_MATCHED_CALIBRATION.to_v1(score) != score  # on v1's scale, not v3's
    assert verified.ismatch is True
    found = await world.run(IDENTIFY, Identify(group, photo(5, 1)))
    best = found.candidates[0]
    assert best.person_id == person
    assert best.tag == ("face tag" if best.face_id == added.face_ids[0] else "person tag")
