"""The legacy service's state (per appid: groups, persons, faces) and v1's rules over it, with v1's codes.

Limits from seed 002_: 5000 groups per appid (-1311), 10000 persons per group (-1310), 20 faces
per person (-1309), an almost identical face on the same person refused (-1312). Groups exist
only through their members: created by newperson, gone when their last member leaves.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.emulator.facemodel import Face, FaceModel
from proxy.legacy import exceptions as errors
from proxy.legacy.exceptions import V1Error
from proxy.legacy.scoring import legacy_score

MAX_GROUPS_PER_APPID = 5000
MAX_PERSONS_PER_GROUP = 10000
MAX_FACES_PER_PERSON = 20
NEAR_DUPLICATE_V3_SCORE = 99.99  # the same picture again (other shots of one subject score lower)
TOP_CANDIDATES = 5

FACE_LIMIT_CODE = -1309
NEAR_DUPLICATE_CODE = -1312


@dataclass
class FaceEntry:
    """One stored face: where it came from (image kept for --state), its measurement and its tag."""

    face_id: str
    person_id: str
    face: Face
    image: bytes = field(repr=False)
    digest: bytes = field(repr=False)
    tag: str | None


@dataclass
class PersonEntry:
    person_id: str
    name: str
    tag: str
    group_ids: list[str] = field(default_factory=list)
    faces: list[FaceEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Candidate:
    """One identify answer: a person's best face against the query."""

    person: PersonEntry
    face: FaceEntry
    confidence: float


class Account:
    """One appid's data (every bucket of the appid sees the same groups, as 002_ describes)."""

    def __init__(self, appid: str) -> None:
        self.appid = appid
        self.groups: dict[str, dict[str, None]] = {}  # group id -> member person ids, insertion ordered
        self.persons: dict[str, PersonEntry] = {}
        self.faces: dict[str, FaceEntry] = {}

    # ---- lookups -------------------------------------------------------------------------
    def person(self, person_id: str) -> PersonEntry:
        found = self.persons.get(person_id)
        if found is None:
            raise errors.person_not_found(person_id)
        return found

    def group(self, group_id: str) -> dict[str, None]:
        found = self.groups.get(group_id)
        if found is None:
            raise errors.group_not_found(group_id)
        return found

    def face(self, face_id: str) -> FaceEntry:
        found = self.faces.get(face_id)
        if found is None:
            raise errors.face_not_found(face_id)
        return found

    # ---- writes --------------------------------------------------------------------------
    def check_new_person(self, person_id: str, group_ids: Iterable[str]) -> list[str]:
        """The distinct groups to join, after the person-exists and group/person limit checks."""
        if person_id in self.persons:
            raise errors.person_exists(person_id)
        wanted = list(dict.fromkeys(group_ids))
        new_groups = [g for g in wanted if g not in self.groups]
        if len(self.groups) + len(new_groups) > MAX_GROUPS_PER_APPID:
            raise V1Error(-1311, f"too many groups: an appid holds at most {MAX_GROUPS_PER_APPID}")
        for group_id in wanted:
            if len(self.groups.get(group_id, ())) >= MAX_PERSONS_PER_GROUP:
                raise V1Error(-1310, f"too many persons: group {group_id} holds {MAX_PERSONS_PER_GROUP}")
        return wanted

    def add_person(self, person: PersonEntry, first_face: FaceEntry) -> None:
        for group_id in person.group_ids:
            self.groups.setdefault(group_id, {})[person.person_id] = None
        person.faces.append(first_face)
        self.faces[first_face.face_id] = first_face
        self.persons[person.person_id] = person

    def delete_person(self, person_id: str) -> None:
        person = self.person(person_id)
        for group_id in person.group_ids:
            members = self.groups.get(group_id)
            if members is not None:
                members.pop(person_id, None)
                if not members:
                    del self.groups[group_id]
        for face in person.faces:
            self.faces.pop(face.face_id, None)
        del self.persons[person_id]

    def admission(self, person: PersonEntry, face: Face, model: FaceModel) -> int:
        """0 if ``face`` may join ``person``, else its per-image code (-1309 full, -1312 near duplicate)."""
        if len(person.faces) >= MAX_FACES_PER_PERSON:
            return FACE_LIMIT_CODE
        if any(model.score(face, known.face) >= NEAR_DUPLICATE_V3_SCORE for known in person.faces):
            return NEAR_DUPLICATE_CODE
        return 0

    def add_face(self, person: PersonEntry, entry: FaceEntry) -> None:
        person.faces.append(entry)
        self.faces[entry.face_id] = entry

    def delete_faces(self, person_id: str, face_ids: Iterable[str]) -> list[str]:
        person = self.person(person_id)
        wanted = dict.fromkeys(face_ids)
        doomed = [f.face_id for f in person.faces if f.face_id in wanted]
        person.faces = [f for f in person.faces if f.face_id not in wanted]
        for face_id in doomed:
            del self.faces[face_id]
        return doomed

    # ---- recognition ---------------------------------------------------------------------
    def best_face(
        self, face: Face, digest: bytes, person: PersonEntry, model: FaceModel, seed: int
    ) -> Candidate | None:
        best: Candidate | None = None
        for known in person.faces:
            score = legacy_score(model.score(face, known.face), digest, known.digest, seed)
            if best is None or score > best.confidence:
                best = Candidate(person, known, score)
        return best

    def identify(self, face: Face, digest: bytes, group_id: str, model: FaceModel, seed: int) -> list[Candidate]:
        members = self.group(group_id)
        found = [self.best_face(face, digest, self.persons[p], model, seed) for p in members]
        ranked = sorted((c for c in found if c is not None), key=lambda c: (-c.confidence, c.person.person_id))
        return ranked[:TOP_CANDIDATES]


class LegacyState:
    """Every appid's account plus the face id generator; one per app instance, never global."""

    def __init__(self, model: FaceModel, *, seed: int = 0) -> None:
        self.model = model
        self.seed = seed
        self.accounts: dict[str, Account] = {}
        self._rng = random.Random(seed)
        self._face_ids: set[str] = set()

    def account(self, appid: str) -> Account:
        found = self.accounts.get(appid)
        if found is None:
            found = self.accounts[appid] = Account(appid)
        return found

    def new_face_id(self) -> str:
        """A 19-digit decimal id, like the seeds' ``1009550071676600319``; unique across appids."""
        while True:
            face_id = str(self._rng.randrange(10**18, 10**19))
            if face_id not in self._face_ids:
                self._face_ids.add(face_id)
                return face_id

    def claim_face_id(self, face_id: str) -> None:
        """Mark an id as used (restoring --state)."""
        self._face_ids.add(face_id)

    def counts(self) -> dict[str, int]:
        return {
            "appids": len(self.accounts),
            "groups": sum(len(a.groups) for a in self.accounts.values()),
            "persons": sum(len(a.persons) for a in self.accounts.values()),
            "faces": sum(len(a.faces) for a in self.accounts.values()),
        }
