"""Comparators for the shadow route: would the app decide the same way on v3's answer as on v1's?

Each v1 op has one comparator, picked from an explicit table. It reads both answers as the app
sees them (the v1 ``code`` and ``data``), never an image, and returns a typed ``Comparison``:
agreed or not, what differed (``Difference`` kinds), both codes, and the score pairs
(v1 score, raw v3 Score) kept for calibration. The same comparators judge v1 against a replay of
itself (noise): then no raw v3 score exists and no pair is kept.

What counts, per op (the decision an app takes on the answer, not equal bytes):
- verify / compare: the score on the same side of the app's threshold (``confidence`` /
  ``similarity`` >= ``match_threshold``);
- identify: the same top-1 person (the candidate overlap is recorded, not judged);
- getinfo / getpersonids / getgroupids / getfaceids: the same person and group ids as sets, the
  same name and tag; face ids are minted by each backend, so only their count must match;
- writes and getfaceinfo: both succeeded, or both refused with the same v1 code. Dual writes are
  judged when the outbox settles them (``dual_write``): only writes the serving side did are owed to
  the other, so there the serving side's code is 0 and "agreed" means the other side did it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Difference(StrEnum):
    """What differed between the two answers (a comparison may have several)."""

    OUTCOME = "outcome"  # one side succeeded, the other refused
    CODE = "code"  # both refused, with different v1 codes
    DECISION = "decision"  # verify/compare: the score on the other side of the threshold
    TOP1 = "top1"  # identify: another best candidate
    IDS = "ids"  # get*: another set of person/group ids
    NAME = "name"  # getinfo: another person_name
    TAG = "tag"  # getinfo: another tag
    FACE_COUNT = "face_count"  # getinfo/getfaceids: another number of faces
    MALFORMED = "malformed"  # an answer without the fields its op promises


@dataclass(frozen=True, slots=True)
class Answer:
    """One backend's answer as the app sees it: the v1 code and the ``data`` object; never an image.

    ``raw_scores``: the v3 Score behind each score in the answer, in the answer's order (verify,
    compare: one; identify: one per candidate). Empty for a v1 answer.
    """

    code: int
    data: Mapping[str, Any]
    raw_scores: tuple[float, ...] = ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any], raw_scores: Sequence[float] = ()) -> Answer:
        """From a parsed v1 JSON reply ``{"code", "message", "data"}``; a body without a code is malformed."""
        code = body.get("code")
        data = body.get("data")
        return cls(
            code=code if isinstance(code, int) and not isinstance(code, bool) else MALFORMED_CODE,
            data=data if isinstance(data, Mapping) else {},
            raw_scores=tuple(float(s) for s in raw_scores),
        )


MALFORMED_CODE = -99999  # stands for "no v1 code at all" so that it never equals a real one


@dataclass(frozen=True, slots=True)
class ScorePair:
    """The v1 score and the raw v3 Score for the same question (calibration's raw material)."""

    v1: float
    v3: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """The verdict on one pair of answers: ids, codes, scores and what differed, nothing else."""

    op: str
    differences: tuple[Difference, ...]
    control_code: int
    candidate_code: int
    pairs: tuple[ScorePair, ...] = ()
    overlap: float | None = None  # identify: |common persons| / |all persons| of the two lists
    detail: str = ""  # short, for people: ids, counts and scores only

    @property
    def agreed(self) -> bool:
        return not self.differences


@dataclass(frozen=True, slots=True)
class Judge:
    """What a comparator needs beyond the answers: the app's threshold on the v1 scale."""

    match_threshold: float


Comparator = Callable[[str, Answer, Answer, Judge], Comparison]


def _codes(op: str, control: Answer, candidate: Answer) -> Comparison | None:
    """The verdict when either side refused; None when both succeeded (compare the contents)."""
    if control.code == 0 and candidate.code == 0:
        return None
    if control.code == candidate.code:
        return Comparison(op, (), control.code, candidate.code)
    kind = Difference.OUTCOME if 0 in (control.code, candidate.code) else Difference.CODE
    return Comparison(op, (kind,), control.code, candidate.code, detail=f"code {control.code} vs {candidate.code}")


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _malformed(op: str, control: Answer, candidate: Answer, what: str) -> Comparison:
    return Comparison(op, (Difference.MALFORMED,), control.code, candidate.code, detail=f"missing {what}")


def _threshold_side(key: str) -> Comparator:
    """verify (``confidence``) and compare (``similarity``): same side of the app's threshold."""

    def judge(op: str, control: Answer, candidate: Answer, judge: Judge) -> Comparison:
        refused = _codes(op, control, candidate)
        if refused is not None:
            return refused
        a, b = _number(control.data, key), _number(candidate.data, key)
        if a is None or b is None:
            return _malformed(op, control, candidate, key)
        pairs = (ScorePair(a, candidate.raw_scores[0]),) if candidate.raw_scores else ()
        same = (a >= judge.match_threshold) == (b >= judge.match_threshold)
        return Comparison(
            op,
            () if same else (Difference.DECISION,),
            0,
            0,
            pairs=pairs,
            detail=f"{key} {a:g} vs {b:g} (threshold {judge.match_threshold:g})",
        )

    return judge


def _candidates(data: Mapping[str, Any]) -> list[tuple[str, float]] | None:
    items = data.get("candidates")
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("person_id"), str):
            return None
        score = _number(item, "confidence")
        if score is None:
            return None
        out.append((item["person_id"], score))
    return out


def identify(op: str, control: Answer, candidate: Answer, judge: Judge) -> Comparison:
    """Same top-1 person; the overlap of the two candidate lists and the score pairs are kept."""
    refused = _codes(op, control, candidate)
    if refused is not None:
        return refused
    a, b = _candidates(control.data), _candidates(candidate.data)
    if a is None or b is None:
        return _malformed(op, control, candidate, "candidates")
    persons_a, persons_b = {p for p, _ in a}, {p for p, _ in b}
    union = persons_a | persons_b
    overlap = len(persons_a & persons_b) / len(union) if union else 1.0
    pairs = []
    if candidate.raw_scores and len(candidate.raw_scores) == len(b):
        raw_by_person: dict[str, float] = {}
        for (person, _), raw in zip(b, candidate.raw_scores, strict=True):
            raw_by_person.setdefault(person, raw)
        seen: set[str] = set()
        for person, score in a:
            if person in raw_by_person and person not in seen:
                seen.add(person)
                pairs.append(ScorePair(score, raw_by_person[person]))
    top_a = a[0][0] if a else None
    top_b = b[0][0] if b else None
    return Comparison(
        op,
        () if top_a == top_b else (Difference.TOP1,),
        0,
        0,
        pairs=tuple(pairs),
        overlap=round(overlap, 4),
        detail=f"top-1 {top_a or '(none)'} vs {top_b or '(none)'}, {len(a)} vs {len(b)} candidates",
    )


def _id_set(data: Mapping[str, Any], key: str) -> frozenset[str] | None:
    items = data.get(key)
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    return frozenset(items)


def _ids(key: str) -> Comparator:
    """getpersonids / getgroupids: the same set of ids."""

    def judge(op: str, control: Answer, candidate: Answer, _judge: Judge) -> Comparison:
        refused = _codes(op, control, candidate)
        if refused is not None:
            return refused
        a, b = _id_set(control.data, key), _id_set(candidate.data, key)
        if a is None or b is None:
            return _malformed(op, control, candidate, key)
        if a == b:
            return Comparison(op, (), 0, 0, detail=f"{len(a)} {key}")
        return Comparison(op, (Difference.IDS,), 0, 0, detail=_set_detail(key, a, b))

    return judge


def _set_detail(key: str, a: frozenset[str], b: frozenset[str]) -> str:
    only_a, only_b = sorted(a - b), sorted(b - a)
    parts = [f"{key}: {len(a)} vs {len(b)}"]
    if only_a:
        parts.append("only v1: " + ", ".join(only_a[:5]) + (" …" if len(only_a) > 5 else ""))
    if only_b:
        parts.append("only other: " + ", ".join(only_b[:5]) + (" …" if len(only_b) > 5 else ""))
    return "; ".join(parts)


def getfaceids(op: str, control: Answer, candidate: Answer, _judge: Judge) -> Comparison:
    """Face ids are minted by each backend: only the number of faces must match."""
    refused = _codes(op, control, candidate)
    if refused is not None:
        return refused
    a, b = _id_set(control.data, "face_ids"), _id_set(candidate.data, "face_ids")
    if a is None or b is None:
        return _malformed(op, control, candidate, "face_ids")
    same = len(a) == len(b)
    return Comparison(op, () if same else (Difference.FACE_COUNT,), 0, 0, detail=f"faces {len(a)} vs {len(b)}")


def getinfo(op: str, control: Answer, candidate: Answer, _judge: Judge) -> Comparison:
    """The same name, tag and groups, and as many faces."""
    refused = _codes(op, control, candidate)
    if refused is not None:
        return refused
    ca, cb = control.data, candidate.data
    groups_a, groups_b = _id_set(ca, "group_ids"), _id_set(cb, "group_ids")
    faces_a, faces_b = _id_set(ca, "face_ids"), _id_set(cb, "face_ids")
    if groups_a is None or groups_b is None or faces_a is None or faces_b is None:
        return _malformed(op, control, candidate, "group_ids/face_ids")
    differences = []
    details = []
    if groups_a != groups_b:
        differences.append(Difference.IDS)
        details.append(_set_detail("group_ids", groups_a, groups_b))
    if ca.get("person_name") != cb.get("person_name"):
        differences.append(Difference.NAME)
        details.append("person_name differs")
    if ca.get("tag") != cb.get("tag"):
        differences.append(Difference.TAG)
        details.append("tag differs")
    if len(faces_a) != len(faces_b):
        differences.append(Difference.FACE_COUNT)
        details.append(f"faces {len(faces_a)} vs {len(faces_b)}")
    return Comparison(op, tuple(differences), 0, 0, detail="; ".join(details))


def outcome(op: str, control: Answer, candidate: Answer, _judge: Judge) -> Comparison:
    """Writes (and getfaceinfo, whose face ids each backend mints): both succeeded, or the same code."""
    refused = _codes(op, control, candidate)
    return refused if refused is not None else Comparison(op, (), 0, 0)


def dual_write(
    op: str, v1_code: int, v3_code: int, refusal: str = "", faces: tuple[int, int] | None = None
) -> Comparison:
    """A settled dual write (the outbox's, not a shadow twin): v1's code against v3's, judged like ``outcome``.

    ``refusal`` says which side refused and why (its message); it becomes the detail of a disagreement.
    ``faces``: for an addface both sides did, the images (v1, v3) each accepted -- a different number
    (v3 keeps 5 faces per person, v1 20) is a ``face_count`` difference: the app would see other ret_codes.
    """
    verdict = outcome(op, Answer(v1_code, {}), Answer(v3_code, {}), Judge(0.0))
    if not verdict.agreed:
        detail = f"{verdict.detail}: {refusal}" if refusal else verdict.detail
        return Comparison(op, verdict.differences, v1_code, v3_code, detail=detail[:300])
    if faces is not None and faces[0] != faces[1]:
        detail = f"images accepted {faces[0]} (v1) vs {faces[1]} (v3)"
        return Comparison(op, (Difference.FACE_COUNT,), v1_code, v3_code, detail=detail)
    return verdict


COMPARATORS: Mapping[str, Comparator] = {
    "verify": _threshold_side("confidence"),
    "compare": _threshold_side("similarity"),
    "identify": identify,
    "getinfo": getinfo,
    "getpersonids": _ids("person_ids"),
    "getgroupids": _ids("group_ids"),
    "getfaceids": getfaceids,
    "getfaceinfo": outcome,
    "newperson": outcome,
    "delperson": outcome,
    "addface": outcome,
    "delface": outcome,
    "setinfo": outcome,
}
SCORED_OPS = ("verify", "compare", "identify")  # ops whose answers carry scores (calibration's ops)


def compare(op: str, control: Answer, candidate: Answer, judge: Judge) -> Comparison:
    """Judge ``candidate`` (v3, or a v1 replay) against ``control`` (v1, which answered the app)."""
    return COMPARATORS[op](op, control, candidate, judge)


__all__ = [
    "COMPARATORS",
    "SCORED_OPS",
    "Answer",
    "Comparison",
    "Difference",
    "Judge",
    "ScorePair",
    "compare",
    "dual_write",
]
