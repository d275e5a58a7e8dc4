"""v3 stand-ins for names: always valid, deterministic, v3-acceptable names kept; group names unique."""

from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from proxy.translate.ids import OPT_OUT, IdTooLong, encode_id, tenant_namespace
from proxy.translate.names import is_v3_name, v3_group_name, v3_person_name

# SDK errorcodes.py: PersonNameIllegal / GroupNameIllegal "只支持中英文、-、_、数字"; models.py: [1, 60].
V3_NAME = re.compile(r"[A-Za-z0-9\-_\u4e00-\u9fff]{1,60}")

v1_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=90)
v1_ids = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=" /\t\n"), min_size=1, max_size=30)


@given(st.one_of(st.none(), v1_text), v1_ids)
def test_person_name_is_always_valid_and_deterministic(name: str | None, person_id: str) -> None:
    stand_in = v3_person_name(name, person_id)
    assert V3_NAME.fullmatch(stand_in), stand_in
    assert stand_in == v3_person_name(name, person_id)


@given(st.text(st.sampled_from(list("abcXYZ019-_张三李四")), min_size=1, max_size=60), v1_ids)
def test_valid_v3_names_are_kept_verbatim(name: str, person_id: str) -> None:
    assert v3_person_name(name, person_id) == name


def test_stand_ins_are_readable() -> None:
    assert v3_person_name("Nicolas Cage", "p0") == "Nicolas_Cage"
    assert v3_person_name("张 三/李", "p0") == "张_三_李"
    assert v3_person_name("x" * 80, "p0") == "x" * 60
    assert v3_person_name("😀😀", "person.0") == "person_0"  # nothing usable in the name: the id
    assert v3_person_name(None, "person0") == "person0"
    assert v3_person_name("", "person0") == "person0"
    fallback = v3_person_name("😀", "😀")
    assert re.fullmatch(r"person_[0-9a-f]{16}", fallback)
    assert fallback != v3_person_name("😀", "😁")


v3_group_ids = st.text(st.sampled_from(list("aZ09-_%@#&h")), min_size=1, max_size=64)


@given(v3_group_ids)
def test_group_name_is_valid(group_id: str) -> None:
    assert V3_NAME.fullmatch(v3_group_name(group_id))
    assert is_v3_name(v3_group_name(group_id))


@given(v3_group_ids, v3_group_ids)
def test_group_names_are_unique_per_group_id(a: str, b: str) -> None:
    assume(a != b)
    assert v3_group_name(a) != v3_group_name(b)


def test_group_name_examples() -> None:
    assert v3_group_name("tencent") == "tencent"
    long_id = "g" * 64
    assert re.fullmatch(r"h-[0-9a-f]{40}", v3_group_name(long_id))
    assert v3_group_name("a%b") != v3_group_name("a@b")
    # an id that looks like a hashed name is hashed itself, so it cannot steal another group's name
    lookalike = v3_group_name(long_id)
    assert v3_group_name(lookalike) != lookalike


@given(v1_ids)
def test_group_names_of_encoded_v1_ids_are_valid_and_distinct_per_tenant(v1_id: str) -> None:
    try:
        a = encode_id(tenant_namespace("1", "a"), v1_id)
        b = encode_id(tenant_namespace("1", "b"), v1_id)
        plain = encode_id(OPT_OUT, v1_id)
    except IdTooLong:
        return
    names = {v3_group_name(a), v3_group_name(b), v3_group_name(plain)}
    assert len(names) == 3
    assert all(V3_NAME.fullmatch(n) for n in names)
