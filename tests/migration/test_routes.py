"""The route decision, pure: the grammar, sticky buckets, and the plan per route, side and subject."""

from __future__ import annotations

import pytest

from proxy.handlers.ops import OPS
from proxy.migration.routes import (
    BUCKETS,
    V1_OPS,
    WRITE_OPS,
    Kind,
    Plan,
    Reason,
    Route,
    Side,
    bucket,
    on_v3,
    parse_route,
    plan,
    subject_key,
)

APPID = "1250000001"


def test_the_settings_op_list_is_the_op_table() -> None:
    assert set(OPS) == V1_OPS


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("v1", Route(Kind.V1)),
        ("SHADOW", Route(Kind.SHADOW)),
        (" v3 ", Route(Kind.V3)),
        ("canary 10%", Route(Kind.CANARY, 10.0)),
        ("canary: 50%", Route(Kind.CANARY, 50.0)),
        ("canary 0.25", Route(Kind.CANARY, 0.25)),
        ("canary 100%", Route(Kind.CANARY, 100.0)),
    ],
)
def test_route_grammar(text: str, route: Route) -> None:
    assert parse_route(text) == route


@pytest.mark.parametrize("text", ["v2", "canary", "canary 101%", "canary -5%", "canary 10.001%", "shadow 5%", ""])
def test_route_grammar_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"route|percentage"):
        parse_route(text)


def test_route_prints_in_its_normal_spelling() -> None:
    assert str(parse_route("canary:7.5")) == "canary 7.5%" and str(parse_route("V1")) == "v1"


def test_buckets_are_sticky_per_tenant_and_subject() -> None:
    assert bucket(APPID, "person:ann") == bucket(APPID, "person:ann")
    assert 0 <= bucket(APPID, "person:ann") < BUCKETS
    spread = {bucket(APPID, f"person:p{i}") for i in range(2000)}
    assert len(spread) > 1500
    # another tenant draws its own sample
    same = sum(bucket(APPID, f"person:p{i}") == bucket("1250000002", f"person:p{i}") for i in range(2000))
    assert same < 10


def test_raising_the_percentage_only_moves_subjects_to_v3() -> None:
    subjects = [f"person:p{i}" for i in range(5000)]
    previous: set[str] = set()
    for percent in (0, 1, 10, 10.5, 50, 99.99, 100):
        now = {s for s in subjects if on_v3(APPID, s, percent)}
        assert previous <= now
        assert abs(len(now) / len(subjects) - percent / 100) < 0.03
        previous = now
    assert previous == set(subjects)


def test_subject_keys() -> None:
    assert subject_key("verify", person_id="ann", group_id=None, body=b"x") == "person:ann"
    assert subject_key("addface", person_id="ann", group_id=None, body=b"x") == "person:ann"
    assert subject_key("identify", person_id=None, group_id="g", body=b"x") == "group:g"
    assert subject_key("getpersonids", person_id=None, group_id="g", body=b"x") == "group:g"
    compare = subject_key("compare", person_id=None, group_id=None, body=b"body")
    assert compare.startswith("request:") and compare != subject_key(
        "compare", person_id=None, group_id=None, body=b"b2"
    )


def _plan(route: str, op: str, *, known: bool = True, subject: str = "person:x", retire: bool = False) -> Plan:
    return plan(
        parse_route(route), appid=APPID, op=op, subject=subject, known_in_v3=known, v1_configured=True, retire_v1=retire
    )


def test_v1_is_a_passthrough_and_writes_nowhere_else() -> None:
    for op in V1_OPS:
        p = _plan("v1", op)
        assert (p.serve, p.mirror_write, p.shadow_read, p.fallback) == (Side.V1, None, False, False)


def test_shadow_answers_from_v1_mirrors_writes_and_shadows_reads() -> None:
    for op in V1_OPS:
        p = _plan("shadow", op)
        assert p.serve is Side.V1
        assert p.mirror_write is (Side.V3 if op in WRITE_OPS else None)
        assert p.shadow_read is (op not in WRITE_OPS)


def test_canary_writes_go_to_both_sides_whichever_serves() -> None:
    v3_subject = next(f"person:p{i}" for i in range(100) if on_v3(APPID, f"person:p{i}", 50))
    v1_subject = next(f"person:p{i}" for i in range(100) if not on_v3(APPID, f"person:p{i}", 50))
    on3 = _plan("canary 50%", "addface", subject=v3_subject)
    on1 = _plan("canary 50%", "addface", subject=v1_subject)
    assert (on3.serve, on3.mirror_write, on3.reason) == (Side.V3, Side.V1, Reason.CANARY_V3)
    assert (on1.serve, on1.mirror_write, on1.reason) == (Side.V1, Side.V3, Reason.CANARY_V1)
    read = _plan("canary 50%", "verify", subject=v3_subject)
    assert read.serve is Side.V3 and read.fallback and read.mirror_write is None


def test_data_aware_reads_go_to_v1_when_the_subject_is_not_in_v3() -> None:
    p = _plan("canary 100%", "verify", known=False)
    assert (p.serve, p.reason) == (Side.V1, Reason.NOT_IN_V3)
    p = _plan("v3", "getinfo", known=False)
    assert (p.serve, p.reason) == (Side.V1, Reason.NOT_IN_V3)
    p = _plan("v3", "addface", known=False)  # a write about a v1-only person: v1 serves, v3 is owed it
    assert (p.serve, p.mirror_write) == (Side.V1, Side.V3)
    for op in ("newperson", "compare"):  # never redirected
        assert _plan("v3", op, known=False).serve is Side.V3


def test_v3_keeps_feeding_v1_until_retired() -> None:
    assert _plan("v3", "setinfo").mirror_write is Side.V1
    assert _plan("v3", "setinfo", retire=True).mirror_write is None
    assert _plan("v3", "verify").fallback is False  # fallback is the canary's safety net
    assert _plan("canary 100%", "setinfo", retire=True).mirror_write is Side.V1  # retire_v1 only acts in v3


def test_without_a_legacy_backend_everything_is_v3() -> None:
    p = plan(parse_route("v3"), appid=APPID, op="verify", subject="person:x", known_in_v3=False,
             v1_configured=False, retire_v1=False)  # fmt: skip
    assert (p.serve, p.mirror_write, p.fallback) == (Side.V3, None, False)


def test_a_person_with_a_write_still_owed_is_answered_by_the_side_that_has_it() -> None:
    p = _plan("v3", "getinfo", known=False)
    assert p.serve is Side.V1
    fresh = plan(parse_route("v3"), appid=APPID, op="getinfo", subject="person:x", known_in_v3=False,
                 v1_configured=True, retire_v1=False, fresh_side=Side.V3)  # fmt: skip
    assert (fresh.serve, fresh.reason) == (Side.V3, Reason.OWED)
    shadow = plan(parse_route("shadow"), appid=APPID, op="getinfo", subject="person:x", known_in_v3=True,
                  v1_configured=True, retire_v1=False, fresh_side=Side.V1)  # fmt: skip
    assert shadow.serve is Side.V1


def test_newperson_goes_to_v1_only_when_v1_already_holds_the_id() -> None:
    assert _plan("v3", "newperson", known=False).serve is Side.V3
    taken = plan(parse_route("v3"), appid=APPID, op="newperson", subject="person:x", known_in_v3=False,
                 v1_configured=True, retire_v1=False, exists_in_v1=True)  # fmt: skip
    assert (taken.serve, taken.reason) == (Side.V1, Reason.NOT_IN_V3)
