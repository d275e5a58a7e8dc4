"""The comparators: what counts as the same answer, per op, on v1 replies as the app sees them."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.handlers.ops import OPS
from proxy.migration.compare import COMPARATORS, Answer, Difference, Judge, ScorePair, compare, dual_write

JUDGE = Judge(match_threshold=80.0)


def ok(raw: tuple[float, ...] = (), **data: Any) -> Answer:
    return Answer(0, data, raw)


def test_every_v1_op_has_a_comparator() -> None:
    assert set(COMPARATORS) == set(OPS)


def test_verify_same_side_of_the_threshold_agrees_and_keeps_the_pair() -> None:
    c = compare("verify", ok(confidence=91.5, ismatch=True), ok((57.0,), confidence=85.0, ismatch=True), JUDGE)
    assert c.agreed and c.differences == ()
    assert c.pairs == (ScorePair(v1=91.5, v3=57.0),)


def test_verify_across_the_threshold_is_a_decision_difference() -> None:
    c = compare("verify", ok(confidence=81.0), ok((48.0,), confidence=78.0), JUDGE)
    assert c.differences == (Difference.DECISION,)
    assert c.pairs == (ScorePair(81.0, 48.0),)
    assert "81 vs 78" in c.detail


def test_the_threshold_is_the_apps_not_v1s_own_ismatch() -> None:
    # v1 said ismatch true at its own cut-off, but at the app's threshold 90 both are below
    c = compare("verify", ok(confidence=85.0, ismatch=True), ok((51.0,), confidence=81.0), Judge(90.0))
    assert c.agreed


def test_compare_uses_similarity() -> None:
    assert compare("compare", ok(similarity=10.0), ok((5.0,), similarity=70.0), JUDGE).agreed
    c = compare("compare", ok(similarity=80.0), ok((49.9,), similarity=79.99), JUDGE)
    assert c.differences == (Difference.DECISION,)


def test_noise_comparison_keeps_no_pair() -> None:
    c = compare("verify", ok(confidence=81.0), ok(confidence=81.3), JUDGE)
    assert c.agreed and c.pairs == ()


def test_refusals_with_the_same_code_agree_other_codes_differ() -> None:
    assert compare("verify", Answer(-1101, {}), Answer(-1101, {}), JUDGE).agreed
    c = compare("verify", Answer(-1101, {}), Answer(-1302, {}), JUDGE)
    assert c.differences == (Difference.CODE,)
    assert (c.control_code, c.candidate_code) == (-1101, -1302)
    c = compare("newperson", ok(person_id="a"), Answer(-1302, {}), JUDGE)
    assert c.differences == (Difference.OUTCOME,)


def test_a_reply_without_its_fields_is_malformed() -> None:
    assert compare("verify", ok(confidence=90.0), ok(), JUDGE).differences == (Difference.MALFORMED,)
    body = Answer.from_body({"message": "no code"})
    assert compare("delperson", ok(), body, JUDGE).differences == (Difference.OUTCOME,)


def candidates(*items: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"person_id": p, "face_id": f"f-{p}", "confidence": s, "tag": ""} for p, s in items]


def test_identify_same_top1_agrees_overlap_and_pairs_by_person() -> None:
    v1 = ok(candidates=candidates(("alice", 95.0), ("bob", 40.0), ("carol", 30.0)))
    v3 = ok((70.0, 22.0), candidates=candidates(("alice", 97.0), ("dave", 45.0)))
    c = compare("identify", v1, v3, JUDGE)
    assert c.agreed
    assert c.overlap == pytest.approx(0.25)  # {alice} of {alice, bob, carol, dave}
    assert c.pairs == (ScorePair(95.0, 70.0),)


def test_identify_other_top1_differs_and_empty_lists_agree() -> None:
    v1 = ok(candidates=candidates(("alice", 95.0), ("bob", 90.0)))
    v3 = ok((66.0, 61.0), candidates=candidates(("bob", 92.0), ("alice", 88.0)))
    c = compare("identify", v1, v3, JUDGE)
    assert c.differences == (Difference.TOP1,)
    assert c.pairs == (ScorePair(95.0, 61.0), ScorePair(90.0, 66.0))
    assert c.overlap == 1.0
    assert compare("identify", ok(candidates=[]), ok(candidates=[]), JUDGE).agreed


def test_id_lists_compare_as_sets() -> None:
    assert compare("getpersonids", ok(person_ids=["a", "b"]), ok(person_ids=["b", "a"]), JUDGE).agreed
    c = compare("getgroupids", ok(group_ids=["g1", "g2"]), ok(group_ids=["g1", "g3"]), JUDGE)
    assert c.differences == (Difference.IDS,)
    assert "only v1: g2" in c.detail and "only other: g3" in c.detail


def test_face_ids_are_minted_per_backend_so_only_their_count_matters() -> None:
    assert compare("getfaceids", ok(face_ids=["1", "2"]), ok(face_ids=["x", "y"]), JUDGE).agreed
    c = compare("getfaceids", ok(face_ids=["1", "2"]), ok(face_ids=["x"]), JUDGE)
    assert c.differences == (Difference.FACE_COUNT,)


def test_getinfo_compares_name_tag_groups_and_face_count() -> None:
    base: dict[str, Any] = {
        "person_id": "p",
        "person_name": "Alice",
        "tag": "staff",
        "group_ids": ["g1"],
        "face_ids": ["1"],
    }
    assert compare("getinfo", ok(**base), ok(**{**base, "face_ids": ["z"]}), JUDGE).agreed
    other: dict[str, Any] = {**base, "person_name": "Al", "tag": "", "group_ids": ["g1", "g2"], "face_ids": []}
    c = compare("getinfo", ok(**base), ok(**other), JUDGE)
    assert set(c.differences) == {Difference.NAME, Difference.TAG, Difference.IDS, Difference.FACE_COUNT}


@pytest.mark.parametrize("op", ["newperson", "delperson", "addface", "delface", "setinfo", "getfaceinfo"])
def test_writes_agree_when_both_succeed(op: str) -> None:
    assert compare(op, ok(person_id="a"), ok(person_id="a", face_id="other"), JUDGE).agreed
    assert compare(op, Answer(-1302, {}), Answer(-1302, {}), JUDGE).agreed
    assert compare(op, Answer(-1302, {}), Answer(-1305, {}), JUDGE).differences == (Difference.CODE,)


def test_a_settled_dual_write_says_who_refused_and_how_many_images_each_side_took() -> None:
    assert dual_write("newperson", 0, 0).agreed
    refused = dual_write("newperson", 0, -1101, "v3 refused after 1 attempt (outbox entry 7): no face")
    assert (refused.differences, refused.control_code, refused.candidate_code) == ((Difference.OUTCOME,), 0, -1101)
    assert refused.detail == "code 0 vs -1101: v3 refused after 1 attempt (outbox entry 7): no face"
    assert len(dual_write("setinfo", 0, 213, "v3 refused: " + "x" * 500).detail) == 300  # bounded
    assert dual_write("addface", 0, 0, faces=(3, 3)).agreed
    fewer = dual_write("addface", 0, 0, faces=(6, 5))
    assert (fewer.differences, fewer.detail) == ((Difference.FACE_COUNT,), "images accepted 6 (v1) vs 5 (v3)")
