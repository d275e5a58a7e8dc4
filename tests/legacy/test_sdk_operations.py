"""Every v1 operation of the legacy service, driven by the unmodified legacy SDK (qcloud-image 1.0.0)."""

from __future__ import annotations

import re

from qcloud_image import CIBuffer, CIBuffers, CIFile, CIFiles, CIUrl, CIUrls

from proxy.emulator.synthetic import group_photo, subject_photo, tiny_photo
from tests.legacy.conftest import APP_A2, APP_B, LegacyWorld, fails, ok, uid

FACE_ID = re.compile(r"[1-9]\d{18}")


def _float(value: object) -> float:
    assert isinstance(value, float), value
    return value


# ---- newperson ---------------------------------------------------------------------------------


def test_newperson_multipart_file_reports_every_documented_field_with_its_type(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person, g1, g2 = uid("p"), uid("g"), uid("g")
    data = ok(client.face_newperson(person, [g1, g2, g1], CIFile(str(legacy_world.photo(0, 0))), "Ann Lee", "desk"))
    assert list(data) == ["person_id", "suc_group", "suc_face", "session_id", "face_id", "group_ids"]
    assert data["person_id"] == person
    assert data["suc_group"] == 2 and data["suc_face"] == 1
    assert FACE_ID.fullmatch(data["face_id"])
    assert data["group_ids"] == [g1, g2]
    assert re.fullmatch(r"[0-9a-f]{32}", data["session_id"])
    info = ok(client.face_getinfo(person))
    assert info == {
        "person_id": person,
        "person_name": "Ann Lee",
        "face_ids": [data["face_id"]],
        "group_ids": [g1, g2],
        "tag": "desk",
        "session_id": info["session_id"],
    }


def test_newperson_json_url_and_raw_bytes(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    by_url, by_bytes, group = uid("pu"), uid("pb"), uid("g")
    assert ok(client.face_newperson(by_url, [group], CIUrl(legacy_world.url("subject1_photo0.jpg"))))["suc_face"] == 1
    assert ok(client.face_newperson(by_bytes, [group], CIBuffer(subject_photo(2, 0))))["suc_face"] == 1
    assert ok(client.face_getpersonids(group))["person_ids"] == [by_url, by_bytes]
    info = ok(client.face_getinfo(by_url))
    assert info["person_name"] == "" and info["tag"] == ""


def test_newperson_errors(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person, group = uid("p"), uid("g")
    ok(client.face_newperson(person, [group], CIBuffer(subject_photo(0, 1))))
    fails(client.face_newperson(person, [group], CIBuffer(subject_photo(0, 2))), -1302)
    # -1302 is decided before the image is looked at
    fails(client.face_newperson(person, [group], CIBuffer(b"not an image")), -1302)
    fails(client.face_newperson(uid("p"), [group], CIBuffer(b"not an image")), -1102)
    fails(client.face_newperson(uid("p"), [group], CIFile(str(legacy_world.photos / "blank.jpg"))), -1101)
    fails(client.face_newperson(uid("p"), [group], CIFile(str(legacy_world.photos / "anim.gif"))), -1400)
    fails(client.face_newperson(uid("p"), [group], CIBuffer(tiny_photo())), -1101)
    fails(client.face_newperson(uid("p"), [group], CIUrl(legacy_world.url("missing.jpg"))), -1308)
    fails(client.face_newperson("has space", [group], CIBuffer(subject_photo(0, 1))), -1313, 400)
    fails(client.face_newperson("a/b", [group], CIBuffer(subject_photo(0, 1))), -1313, 400)
    fails(client.face_newperson(uid("p"), ["tab\tgroup"], CIBuffer(subject_photo(0, 1))), -1313, 400)
    fails(client.face_newperson("x" * 65, [group], CIBuffer(subject_photo(0, 1))), -1304, 400)
    fails(client.face_newperson(uid("p"), [group], CIBuffer(subject_photo(0, 1)), "n" * 65), -1304, 400)
    # ids v3 would refuse are kept verbatim
    odd = "张三.v1+legacy"
    assert ok(client.face_newperson(odd, [group], CIBuffer(subject_photo(3, 0))))["person_id"] == odd
    assert odd in ok(client.face_getpersonids(group))["person_ids"]


def test_newperson_uses_the_largest_face_of_a_group_photo(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person = uid("p")
    ok(client.face_newperson(person, [uid("g")], CIBuffer(group_photo((2, 3)))))
    assert len(ok(client.face_getfaceids(person))["face_ids"]) == 1


# ---- delperson, setinfo, getinfo -----------------------------------------------------------------


def test_delperson_removes_the_person_its_faces_and_empty_groups(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person, other, shared, alone = uid("p"), uid("p"), uid("g"), uid("g")
    face_id = ok(client.face_newperson(person, [shared, alone], CIBuffer(subject_photo(0, 0))))["face_id"]
    ok(client.face_newperson(other, [shared], CIBuffer(subject_photo(1, 0))))
    data = ok(client.face_delperson(person))
    assert data == {"deleted": 1, "person_id": person, "session_id": data["session_id"]}
    fails(client.face_getinfo(person), -1303)
    fails(client.face_getfaceinfo(face_id), -1305)
    assert ok(client.face_getpersonids(shared))["person_ids"] == [other]
    fails(client.face_getpersonids(alone), -1306)
    assert alone not in ok(client.face_getgroupids())["group_ids"]
    fails(client.face_delperson(person), -1303)


def test_setinfo_changes_name_and_tag_independently(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person = uid("p")
    ok(client.face_newperson(person, [uid("g")], CIBuffer(subject_photo(1, 1)), "Old", "old tag"))
    data = ok(client.face_setinfo(person, person_name="New Name"))
    assert data == {"person_id": person, "session_id": data["session_id"]}
    info = ok(client.face_getinfo(person))
    assert (info["person_name"], info["tag"]) == ("New Name", "old tag")
    ok(client.face_setinfo(person, tag="new tag"))
    info = ok(client.face_getinfo(person))
    assert (info["person_name"], info["tag"]) == ("New Name", "new tag")
    ok(client.face_setinfo(person))  # nothing to change: still a success
    fails(client.face_setinfo(uid("nobody"), person_name="x"), -1303)
    fails(client.face_setinfo(person, tag="t" * 257), -1304, 400)
    fails(client.face_getinfo("bad id"), -1313, 400)
    fails(client.face_getinfo(""), -1301, 400)


# ---- addface, delface, getfaceids, getfaceinfo -----------------------------------------------------


def test_addface_answers_per_image_in_input_order(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person = uid("p")
    first = ok(client.face_newperson(person, [uid("g")], CIBuffer(subject_photo(0, 0))))["face_id"]
    files = CIFiles(
        [
            str(legacy_world.photo(0, 1)),
            str(legacy_world.photo(0, 0)),  # the same picture as the first face: near duplicate
            str(legacy_world.photos / "blank.jpg"),
            str(legacy_world.photos / "anim.gif"),
            str(legacy_world.photo(0, 2)),
        ]
    )
    data = ok(client.face_addface(person, files, "added"))
    assert list(data) == ["added", "session_id", "face_ids", "ret_codes"]
    assert data["added"] == 2 and all(FACE_ID.fullmatch(f) for f in data["face_ids"])
    assert data["ret_codes"] == [0, -1312, -1101, -1400, 0]
    assert ok(client.face_getfaceids(person)) == {"face_ids": [first, *data["face_ids"]]}
    assert ok(client.face_getinfo(person))["tag"] == ""  # addface's tag labels faces, not the person
    by_url = ok(
        client.face_addface(person, CIUrls([legacy_world.url("subject0_photo3.jpg"), legacy_world.url("nope.jpg")]))
    )
    assert by_url["ret_codes"] == [0, -1308]
    by_bytes = ok(client.face_addface(person, CIBuffers([subject_photo(0, 4), b"garbage"])))
    assert by_bytes["ret_codes"] == [0, -1102]
    fails(client.face_addface(uid("nobody"), CIBuffers([subject_photo(0, 4)])), -1303)


def test_addface_stops_at_twenty_faces_per_person(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person = uid("p")
    ok(client.face_newperson(person, [uid("g")], CIBuffer(subject_photo(2, 0, size=(400, 520)))))
    # 21 distinct pictures of subject 2 (different sizes make different pictures of the same shots)
    pictures = [subject_photo(2, photo, size=(400 + 8 * k, 520 + 8 * k)) for k in range(4) for photo in range(6)]
    data = ok(client.face_addface(person, CIBuffers(pictures[1:22])))
    assert data["added"] == 19
    assert data["ret_codes"] == [0] * 19 + [-1309, -1309]
    assert len(ok(client.face_getfaceids(person))["face_ids"]) == 20
    fails(client.face_addface(person, CIBuffers([])), -1, 0)  # the SDK itself refuses an empty list


def test_delface_deletes_only_the_persons_faces(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person, other = uid("p"), uid("p")
    first = ok(client.face_newperson(person, [uid("g")], CIBuffer(subject_photo(3, 0))))["face_id"]
    second = ok(client.face_addface(person, CIBuffers([subject_photo(3, 1)])))["face_ids"][0]
    foreign = ok(client.face_newperson(other, [uid("g")], CIBuffer(subject_photo(1, 2))))["face_id"]
    data = ok(client.face_delface(person, [first, foreign, "1000000000000000000"]))
    assert data == {"deleted": 1, "face_ids": [first], "session_id": data["session_id"]}
    assert ok(client.face_getfaceids(person))["face_ids"] == [second]
    assert ok(client.face_getfaceids(other))["face_ids"] == [foreign]
    fails(client.face_delface(person, [foreign]), -1305)
    fails(client.face_delface(uid("nobody"), [second]), -1303)
    fails(client.face_delface(person, []), -1301, 400)
    ok(client.face_delface(person, [second]))  # v1 lets a person lose its last face
    assert ok(client.face_getfaceids(person))["face_ids"] == []
    fails(client.face_verify(person, CIBuffer(subject_photo(3, 2))), -1305)


def test_getfaceinfo_answers_a_faceitem_with_documented_types(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    face_id = ok(client.face_newperson(uid("p"), [uid("g")], CIBuffer(subject_photo(1, 0))))["face_id"]
    data = ok(client.face_getfaceinfo(face_id))
    assert list(data) == ["face_info"]
    info = data["face_info"]
    assert set(info) == {
        "face_id",
        "x",
        "y",
        "height",
        "width",
        "pitch",
        "roll",
        "yaw",
        "age",
        "gender",
        "glass",
        "expression",
    }
    assert info["face_id"] == face_id
    for name in ("x", "y", "pitch", "roll", "yaw", "age", "gender", "expression"):
        assert type(info[name]) is int, name
    assert type(info["width"]) is float and type(info["height"]) is float
    assert type(info["glass"]) is bool
    assert 0 <= info["gender"] <= 100 and 0 <= info["age"] <= 100
    fails(client.face_getfaceinfo("1000000000000000000"), -1305)
    fails(client.face_getfaceids(uid("nobody")), -1303)


# ---- groups ---------------------------------------------------------------------------------------


def test_getgroupids_and_getpersonids_per_appid(legacy_world: LegacyWorld) -> None:
    client_b = legacy_world.client(APP_B)
    fails(client_b.face_getgroupids(), -1307)  # an appid without groups
    person, group = uid("p"), uid("g")
    ok(client_b.face_newperson(person, [group], CIBuffer(subject_photo(2, 1))))
    assert ok(client_b.face_getgroupids()) == {"group_ids": [group]}
    assert ok(client_b.face_getpersonids(group)) == {"person_ids": [person]}
    # app A never sees app B's data; a second key of app A and another bucket see app A's
    client_a = legacy_world.client()
    mine = uid("g")
    ok(client_a.face_newperson(uid("p"), [mine], CIBuffer(subject_photo(2, 2))))
    assert group not in ok(client_a.face_getgroupids())["group_ids"]
    fails(client_a.face_getpersonids(group), -1306)
    fails(client_a.face_getinfo(person), -1303)
    assert mine in ok(legacy_world.client(APP_A2, bucket="another").face_getgroupids())["group_ids"]
    fails(client_a.face_getpersonids("bad/group"), -1313, 400)
    ok(client_b.face_delperson(person))
    fails(client_b.face_getgroupids(), -1307)


# ---- recognition ---------------------------------------------------------------------------------


def test_verify_scores_on_the_two_point_zero_scale(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    person = uid("p")
    ok(client.face_newperson(person, [uid("g")], CIBuffer(subject_photo(1, 0))))
    same = ok(client.face_verify(person, CIBuffer(subject_photo(1, 3))))
    assert list(same) == ["session_id", "confidence", "ismatch"]
    assert _float(same["confidence"]) >= 90 and same["ismatch"] is True
    other = ok(client.face_verify(person, CIUrl(legacy_world.url("subject2_photo0.jpg"))))
    assert _float(other["confidence"]) < 70 and other["ismatch"] is False
    again = ok(client.face_verify(person, CIFile(str(legacy_world.photo(1, 3)))))
    assert again["confidence"] == same["confidence"]  # deterministic per image pair
    fails(client.face_verify(uid("nobody"), CIBuffer(subject_photo(1, 3))), -1303)
    fails(client.face_verify(person, CIBuffer(b"xx")), -1102)


def test_identify_ranks_top_five_with_face_or_person_tags(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    group = uid("g")
    persons = [uid(f"p{s}") for s in range(4)]
    for subject, person in enumerate(persons):
        ok(client.face_newperson(person, [group], CIBuffer(subject_photo(subject, 0)), tag=f"person tag {subject}"))
    tagged = ok(client.face_addface(persons[2], CIBuffers([subject_photo(2, 1)]), "face tag"))["face_ids"][0]
    data = ok(client.face_identify(group, CIBuffer(subject_photo(2, 1))))
    assert list(data) == ["session_id", "candidates"]
    candidates = data["candidates"]
    assert len(candidates) == 4
    top = candidates[0]
    assert list(top) == ["person_id", "face_id", "confidence", "tag"]
    assert (top["person_id"], top["face_id"], top["tag"]) == (persons[2], tagged, "face tag")
    assert _float(top["confidence"]) == 100.0
    scores = [_float(c["confidence"]) for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert candidates[1]["tag"].startswith("person tag ")
    fails(client.face_identify(uid("nogroup"), CIBuffer(subject_photo(2, 1))), -1306)
    fails(client.face_identify(group, CIFile(str(legacy_world.photos / "blank.jpg"))), -1101)


def test_compare_similarity_and_fail_flag(legacy_world: LegacyWorld) -> None:
    client = legacy_world.client()
    same = ok(client.face_compare(CIBuffer(subject_photo(0, 0)), CIBuffer(subject_photo(0, 0))))
    assert list(same) == ["similarity", "session_id"]
    assert same["similarity"] == 100.0 and type(same["similarity"]) is float
    urls = ok(
        client.face_compare(
            CIUrl(legacy_world.url("subject0_photo1.jpg")), CIUrl(legacy_world.url("subject3_photo1.jpg"))
        )
    )
    assert _float(urls["similarity"]) < 70
    swapped = ok(
        client.face_compare(
            CIUrl(legacy_world.url("subject3_photo1.jpg")), CIUrl(legacy_world.url("subject0_photo1.jpg"))
        )
    )
    assert swapped["similarity"] == urls["similarity"]  # symmetric
    mixed = ok(
        client.face_compare(CIFile(str(legacy_world.photo(0, 2))), CIUrl(legacy_world.url("subject0_photo3.jpg")))
    )
    assert _float(mixed["similarity"]) >= 90
    assert fails(client.face_compare(CIBuffer(b"junk"), CIBuffer(subject_photo(0, 0))), -1102)["fail_flag"] == 1
    blank = CIFile(str(legacy_world.photos / "blank.jpg"))
    assert fails(client.face_compare(CIBuffer(subject_photo(0, 0)), blank), -1101)["fail_flag"] == 2
    missing = CIUrl(legacy_world.url("missing.jpg"))
    assert fails(client.face_compare(CIBuffer(subject_photo(0, 0)), missing), -1308)["fail_flag"] == 2
