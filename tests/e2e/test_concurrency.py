"""Races a legacy app can cause: newperson racing into a new group, addface racing on one person."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from qcloud_image import CIBuffers, CIFile

from tests.e2e.conftest import World, ok


def test_newperson_racing_into_one_new_group_all_succeed(world: World) -> None:
    group = f"race-{uuid.uuid4().hex[:8]}"
    people = [f"racer-{i}-{uuid.uuid4().hex[:6]}" for i in range(8)]

    def create(i: int) -> dict[str, object]:
        # each thread its own client, as separate app workers would be
        reply: dict[str, object] = world.client().face_newperson(people[i], [group], CIFile(str(world.photo(i % 6, 7))))
        return reply

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(create, range(8)))
    for reply in replies:
        data = ok(reply)
        assert data["suc_group"] == 1 and data["group_ids"] == [group]
    assert sorted(ok(world.client().face_getpersonids(group))["person_ids"]) == sorted(people)
    assert ok(world.client().face_getgroupids())["group_ids"].count(group) == 1


def test_addface_racing_on_one_person_is_serialised(world: World) -> None:
    client = world.client()
    person = f"busy-{uuid.uuid4().hex[:8]}"
    ok(client.face_newperson(person, [f"g-{uuid.uuid4().hex[:8]}"], CIFile(str(world.photo(3, 3)))))
    images = [world.photo(3, j).read_bytes() for j in (4, 5, 6, 7)]

    def add(image: bytes) -> dict[str, object]:
        reply: dict[str, object] = world.client().face_addface(person, CIBuffers([image]))
        return reply

    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(add, images))
    # v3 refuses concurrent CreateFace on one person; the proxy serialises them, so all four land
    assert [ok(r)["ret_codes"] for r in replies] == [[0]] * 4
    assert len(ok(client.face_getfaceids(person))["face_ids"]) == 5
