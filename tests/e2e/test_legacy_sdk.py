"""Every v1 endpoint driven by the unmodified legacy SDK (qcloud-image 1.0.0) through the proxy into the emulator."""

from __future__ import annotations

import uuid

from qcloud_image import CIBuffer, CIBuffers, CIFile, CIFiles, CIUrl, CIUrls

from tests.e2e.conftest import TENANT_A, TENANT_B, World, ok


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_session(data: dict[str, object]) -> None:
    session = data["session_id"]
    assert isinstance(session, str) and len(session) >= 16  # the v3 RequestId, quotable in a ticket


# ---- person family --------------------------------------------------------------------------


def test_newperson_with_file_creates_every_group_and_reports_exact_v1_fields(world: World) -> None:
    client = world.client()
    person, g1, g2 = uid("p"), uid("g"), uid("g")
    data = ok(client.face_newperson(person, [g1, g2], CIFile(str(world.photo(0, 0))), "Ann Lee", "desk 1"))
    assert_session(data)
    assert data["person_id"] == person
    assert data["suc_group"] == 2 and isinstance(data["suc_group"], int)
    assert data["suc_face"] == 1 and isinstance(data["suc_face"], int)
    assert isinstance(data["face_id"], str) and data["face_id"]
    assert data["group_ids"] == [g1, g2]
    assert set(data) == {"session_id", "person_id", "suc_group", "suc_face", "face_id", "group_ids"}

    info = ok(client.face_getinfo(person))
    assert info["person_name"] == "Ann Lee"
    assert info["tag"] == "desk 1"
    assert info["face_ids"] == [data["face_id"]]
    assert sorted(info["group_ids"]) == sorted([g1, g2])
    assert person in ok(client.face_getpersonids(g2))["person_ids"]
    groups = ok(client.face_getgroupids())["group_ids"]
    assert {g1, g2} <= set(groups)


def test_getinfo_of_a_person_created_without_a_name_answers_an_empty_name(world: World) -> None:
    # v3 needs a PersonName, so the proxy sends a stand-in (here "a_b_41-..."): it must never reach the app
    client = world.client()
    person, group = f"a@b%41-{uuid.uuid4().hex[:8]}", uid("g")
    ok(client.face_newperson(person, [group], CIFile(str(world.photo(3, 0)))))
    info = ok(client.face_getinfo(person))
    assert info["person_name"] == ""
    assert info["tag"] == ""
    assert info["person_id"] == person


def test_newperson_with_url_and_bytes(world: World) -> None:
    client = world.client()
    by_url, by_bytes, group = uid("pu"), uid("pb"), uid("g")
    data = ok(client.face_newperson(by_url, [group], CIUrl(world.url("subject1_photo0.jpg"))))
    assert data["suc_face"] == 1 and data["group_ids"] == [group]
    data = ok(client.face_newperson(by_bytes, [group], CIBuffer(world.photo(2, 0).read_bytes())))
    assert data["suc_face"] == 1
    assert sorted(ok(client.face_getpersonids(group))["person_ids"]) == sorted([by_url, by_bytes])


def test_newperson_twice_is_person_exists(world: World) -> None:
    client = world.client()
    person, group = uid("p"), uid("g")
    ok(client.face_newperson(person, [group], CIFile(str(world.photo(0, 1)))))
    again = client.face_newperson(person, [group], CIFile(str(world.photo(0, 2))))
    assert again["code"] == -1302, again


def test_setinfo_and_getinfo_round_trip_awkward_names_and_tags(world: World) -> None:
    client = world.client()
    person, group = uid("p.with#odd@chars%"), uid("组")
    ok(client.face_newperson(person, [group], CIFile(str(world.photo(1, 1)))))
    name = "Zoë / O'Brien 张伟 🙂 " + "x" * 60
    data = ok(client.face_setinfo(person, name, "tag with spaces / slashes ✓"))
    assert data["person_id"] == person
    assert_session(data)
    info = ok(client.face_getinfo(person))
    assert info["person_name"] == name
    assert info["tag"] == "tag with spaces / slashes ✓"
    assert info["group_ids"] == [group]
    assert set(info) == {"session_id", "person_id", "person_name", "face_ids", "group_ids", "tag"}


def test_delperson_leaves_nothing_behind(world: World) -> None:
    client = world.client()
    person, group = uid("p"), uid("g")
    face_id = ok(client.face_newperson(person, [group], CIFile(str(world.photo(3, 0)))))["face_id"]
    assert ok(client.face_getfaceinfo(face_id))["face_info"]["face_id"] == face_id
    data = ok(client.face_delperson(person))
    assert data == {"session_id": data["session_id"], "person_id": person, "deleted": 1}
    assert client.face_getinfo(person)["code"] == -1303
    assert client.face_getfaceinfo(face_id)["code"] == -1305  # the proxy's own face data is gone too
    # the group stays (v3 keeps groups), without the person
    assert group in ok(client.face_getgroupids())["group_ids"]
    assert ok(client.face_getpersonids(group))["person_ids"] == []


def test_unknown_person_is_1303(world: World) -> None:
    client = world.client()
    for reply in (client.face_getinfo(uid("nobody")), client.face_getfaceids(uid("nobody"))):
        assert reply["code"] == -1303, reply


# ---- face family ----------------------------------------------------------------------------


def test_addface_files_buffers_urls_ret_codes_and_the_five_face_limit(world: World) -> None:
    client = world.client()
    person, group = uid("p"), uid("g")
    ok(client.face_newperson(person, [group], CIFile(str(world.photo(4, 0)))))

    data = ok(client.face_addface(person, CIFiles([str(world.photo(4, 1))]), "from file"))
    assert data["added"] == 1 and data["ret_codes"] == [0] and len(data["face_ids"]) == 1
    data = ok(client.face_addface(person, CIBuffers([world.photo(4, 2).read_bytes()])))
    assert data["added"] == 1 and data["ret_codes"] == [0]
    data = ok(client.face_addface(person, CIUrls([world.url("subject4_photo3.jpg")]), "from url"))
    assert data["added"] == 1 and data["ret_codes"] == [0]
    assert all(isinstance(code, int) for code in data["ret_codes"])
    assert set(data) == {"session_id", "added", "face_ids", "ret_codes"}

    # v3 keeps at most 5 faces per person (v1 allowed 20): the 5th lands, the rest say -1309
    data = ok(
        client.face_addface(person, CIFiles([str(world.photo(4, 4)), str(world.photo(4, 5)), str(world.photo(4, 6))]))
    )
    assert data["added"] == 1
    assert data["ret_codes"] == [0, -1309, -1309]
    assert len(ok(client.face_getfaceids(person))["face_ids"]) == 5


def test_addface_reports_a_faceless_image_per_image(world: World) -> None:
    client = world.client()
    person, group = uid("p"), uid("g")
    ok(client.face_newperson(person, [group], CIFile(str(world.photo(5, 0)))))
    data = ok(client.face_addface(person, CIFiles([str(world.photos / "blank.jpg"), str(world.photo(5, 1))])))
    assert data["ret_codes"] == [-1101, 0]
    assert data["added"] == 1 and len(data["face_ids"]) == 1


def test_delface_getfaceids_getfaceinfo(world: World) -> None:
    client = world.client()
    person, group = uid("p"), uid("g")
    first = ok(client.face_newperson(person, [group], CIFile(str(world.photo(2, 1)))))["face_id"]
    added = ok(client.face_addface(person, CIFiles([str(world.photo(2, 2))]), "second"))["face_ids"]
    assert sorted(ok(client.face_getfaceids(person))["face_ids"]) == sorted([first, *added])

    info = ok(client.face_getfaceinfo(added[0]))["face_info"]
    assert info["face_id"] == added[0]
    types = {
        "x": int,
        "y": int,
        "width": float,
        "height": float,
        "gender": int,
        "age": int,
        "expression": int,
        "glass": bool,
        "pitch": int,
        "yaw": int,
        "roll": int,
    }
    for key, kind in types.items():
        assert type(info[key]) is kind, (key, info[key])
    assert info["width"] > 0 and info["height"] > 0 and 0 <= info["age"] <= 100

    data = ok(client.face_delface(person, added))
    assert data["deleted"] == 1 and data["face_ids"] == added
    assert ok(client.face_getfaceids(person))["face_ids"] == [first]
    assert client.face_getfaceinfo(added[0])["code"] == -1305


def test_getfaceinfo_of_another_tenants_face_is_1305(world: World) -> None:
    person, group = uid("p"), uid("g")
    face_id = ok(world.client().face_newperson(person, [group], CIFile(str(world.photo(0, 3)))))["face_id"]
    assert world.client(TENANT_B).face_getfaceinfo(face_id)["code"] == -1305


# ---- recognition ----------------------------------------------------------------------------


def test_verify_same_and_other_subject(world: World) -> None:
    client = world.client()
    person, group = uid("p"), uid("g")
    ok(client.face_newperson(person, [group], CIFile(str(world.photo(1, 2)))))
    same = ok(client.face_verify(person, CIFile(str(world.photo(1, 3)))))
    assert type(same["confidence"]) is float and type(same["ismatch"]) is bool
    assert same["ismatch"] is True and same["confidence"] >= 80
    other = ok(client.face_verify(person, CIUrl(world.url("subject3_photo1.jpg"))))
    assert other["ismatch"] is False and other["confidence"] < 80
    assert set(same) == {"session_id", "confidence", "ismatch"}


def test_identify_top_candidates_with_face_tags(world: World) -> None:
    client = world.client()
    group = uid("g")
    people = {}
    for subject in range(3):
        person = uid(f"s{subject}")
        ok(client.face_newperson(person, [group], CIFile(str(world.photo(subject, 4))), None, f"person-tag-{subject}"))
        people[subject] = person
    added = ok(client.face_addface(people[1], CIFiles([str(world.photo(1, 5))]), "face-tag-1"))["face_ids"]
    data = ok(client.face_identify(group, CIFile(str(world.photo(1, 6)))))
    assert_session(data)
    candidates = data["candidates"]
    assert 1 <= len(candidates) <= 5
    best = candidates[0]
    assert best["person_id"] == people[1]
    assert type(best["confidence"]) is float and best["confidence"] >= 80
    assert set(best) == {"person_id", "face_id", "confidence", "tag"}
    expected_tag = "face-tag-1" if best["face_id"] == added[0] else "person-tag-1"
    assert best["tag"] == expected_tag
    scores = [c["confidence"] for c in candidates]
    assert scores == sorted(scores, reverse=True)


def test_identify_unknown_group_is_1306(world: World) -> None:
    reply = world.client().face_identify(uid("nogroup"), CIFile(str(world.photo(0, 0))))
    assert reply["code"] == -1306, reply


def test_compare_files_urls_and_mixed(world: World) -> None:
    client = world.client()
    same = ok(client.face_compare(CIFile(str(world.photo(2, 3))), CIFile(str(world.photo(2, 4)))))
    assert type(same["similarity"]) is float and same["similarity"] >= 80
    other = ok(client.face_compare(CIUrl(world.url("subject2_photo3.jpg")), CIUrl(world.url("subject5_photo3.jpg"))))
    assert other["similarity"] < 60
    mixed = ok(client.face_compare(CIUrl(world.url("subject2_photo5.jpg")), CIBuffer(world.photo(2, 6).read_bytes())))
    assert mixed["similarity"] >= 80
    assert set(same) == {"session_id", "similarity"}


def test_compare_says_which_image_failed(world: World) -> None:
    client = world.client()
    blank = str(world.photos / "blank.jpg")
    face = str(world.photo(0, 5))
    second = client.face_compare(CIFile(face), CIFile(blank))
    assert second["code"] == -1101 and second["data"]["fail_flag"] == 2, second
    first = client.face_compare(CIFile(blank), CIFile(face))
    assert first["code"] == -1101 and first["data"]["fail_flag"] == 1, first


def test_gif_is_refused_with_1400(world: World) -> None:
    reply = world.client().face_compare(CIFile(str(world.photo(0, 0))), CIFile(str(world.photos / "anim.gif")))
    assert reply["code"] == -1400 and reply["data"]["fail_flag"] == 2, reply


# ---- auth and tenants -----------------------------------------------------------------------


def test_wrong_secret_key_is_14_and_unknown_appid_is_10(world: World) -> None:
    appid, secret_id, _ = TENANT_A
    reply = world.client((appid, secret_id, "not-the-key")).face_getgroupids()
    assert reply["code"] == 14 and reply["httpcode"] == 401, reply
    reply = world.client(("999", secret_id, "whatever")).face_getgroupids()
    assert reply["code"] in (10, 12), reply


def test_tenants_sharing_one_v3_account_never_see_each_other(world: World) -> None:
    a, b = world.client(TENANT_A), world.client(TENANT_B)
    person, group = uid("shared-id"), uid("shared-group")
    ok(a.face_newperson(person, [group], CIFile(str(world.photo(3, 2))), "A's person"))
    assert group not in ok(b.face_getgroupids())["group_ids"]
    assert b.face_getinfo(person)["code"] == -1303
    # the same ids are free in tenant B, and stay separate
    ok(b.face_newperson(person, [group], CIFile(str(world.photo(4, 7))), "B's person"))
    assert ok(a.face_getinfo(person))["person_name"] == "A's person"
    assert ok(b.face_getinfo(person))["person_name"] == "B's person"
    ok(b.face_delperson(person))
    assert ok(a.face_getinfo(person))["person_name"] == "A's person"
    # a bucket is a namespace of its own too
    assert group not in ok(world.client(TENANT_A, bucket="other").face_getgroupids())["group_ids"]


def test_error_paths_of_the_write_ops(world: World) -> None:
    client = world.client()
    nobody = uid("nobody")
    assert client.face_setinfo(nobody, "name")["code"] == -1303
    assert client.face_delperson(nobody)["code"] == -1303
    assert client.face_addface(nobody, CIFiles([str(world.photo(0, 0))]))["code"] == -1303
    person, group = uid("p"), uid("g")
    only = ok(client.face_newperson(person, [group], CIFile(str(world.photo(5, 2)))))["face_id"]
    # v3 keeps at least one face per person (v1 did not): refused as a face-count limit that says why
    refused = client.face_delface(person, [only])
    assert refused["code"] == -1309 and refused["httpcode"] == 200, refused
    assert "v3 keeps at least one face per person" in refused["message"], refused
    assert ok(client.face_getfaceids(person))["face_ids"] == [only]
    assert client.face_getpersonids(uid("nogroup"))["code"] == -1306


def test_identify_and_verify_by_url(world: World) -> None:
    client = world.client()
    person, group = uid("p"), uid("g")
    ok(client.face_newperson(person, [group], CIUrl(world.url("subject5_photo4.jpg"))))
    found = ok(client.face_identify(group, CIUrl(world.url("subject5_photo5.jpg"))))["candidates"]
    assert found[0]["person_id"] == person
    assert ok(client.face_verify(person, CIUrl(world.url("subject5_photo6.jpg"))))["ismatch"] is True
    missing = client.face_verify(person, CIUrl(world.url("no-such-file.jpg")))
    assert missing["code"] == -1308, missing
