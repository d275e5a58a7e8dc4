"""The person family's translation: names answered to the app never are v3 stand-ins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxy.store.base import PersonRecord
from proxy.translate.names import v3_person_name
from proxy.translate.person import getinfo_from_v3, v1_name
from proxy.translate.scope import Scope


@dataclass(frozen=True)
class Reply:
    request_id: str
    data: Mapping[str, Any]


SCOPE = Scope.of("1250000000", "b")


def base(name: str) -> Reply:
    return Reply("rid", {"PersonName": name, "FaceIds": ["f1", "f2"]})


def test_a_person_stored_without_a_name_answers_empty_not_the_stand_in() -> None:
    stand_in = v3_person_name(None, "a@b%41")
    assert stand_in == "a_b_41"
    record = PersonRecord("1250000000/b", "a@b%41", None, None)
    info = getinfo_from_v3(base(stand_in), "a@b%41", (), record, SCOPE)
    assert (info.person_name, info.tag, info.face_ids) == ("", "", ("f1", "f2"))


def test_the_stored_name_wins_over_v3s() -> None:
    record = PersonRecord("1250000000/b", "p", "Zoë / 中", "desk")
    info = getinfo_from_v3(base("Zo_中"), "p", (), record, SCOPE)
    assert (info.person_name, info.tag) == ("Zoë / 中", "desk")


def test_without_a_record_v3s_name_is_answered_unless_it_is_the_proxys_stand_in() -> None:
    assert v1_name("Alice", "p-1") == "Alice"
    assert v1_name(v3_person_name(None, "a@b%41"), "a@b%41") == ""
    info = getinfo_from_v3(base("Alice"), "p-1", (SCOPE.v3_id("g1"), "foreign_g"), None, SCOPE)
    assert (info.person_name, info.group_ids, info.session_id) == ("Alice", ("g1",), "rid")
