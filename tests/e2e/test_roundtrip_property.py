"""Property: any id, name and tag a v1 app could have sent comes back exactly."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qcloud_image import CIUrl

from tests.e2e.conftest import World, ok

# v1 refused space, '/', tab and newline in ids (-1313); everything else was allowed
ID_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zs"), blacklist_characters=" /\t\n\r\x0b\x0c")
V1_IDS = st.text(ID_CHARS, min_size=1, max_size=10)
NAMES = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1, max_size=80)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(person_id=V1_IDS, group_id=V1_IDS, name=NAMES, tag=NAMES)
def test_ids_names_and_tags_round_trip(world: World, person_id: str, group_id: str, name: str, tag: str) -> None:
    client = world.client()
    person_id = f"{person_id}{uuid.uuid4().hex[:4]}"  # unique per example; the suffix is plain ASCII
    image = CIUrl(world.url("subject0_photo0.jpg"))
    created = ok(client.face_newperson(person_id, [group_id], image, name, tag))
    assert created["person_id"] == person_id and created["group_ids"] == [group_id]
    info = ok(client.face_getinfo(person_id))
    assert (info["person_id"], info["person_name"], info["tag"], info["group_ids"]) == (
        person_id,
        name,
        tag,
        [group_id],
    )
    assert person_id in ok(client.face_getpersonids(group_id))["person_ids"]
    assert group_id in ok(client.face_getgroupids())["group_ids"]
    ok(client.face_delperson(person_id))
