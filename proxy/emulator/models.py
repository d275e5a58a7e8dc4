"""The emulated account's state (groups, persons, faces) and v3's rules over it, with v3's error codes."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from proxy.emulator.exceptions import EmulatorError, failed, invalid_value
from proxy.emulator.facemodel import Face, FaceModel

ID_PATTERN = re.compile(r"[A-Za-z0-9\-%@#&_]+")
MAX_ID_LENGTH = 64
MAX_GROUP_NAME = 60
MAX_PERSON_NAME = 60
MAX_TAG = 40
MAX_GROUP_EX_DESCRIPTIONS = 5
MAX_GROUP_EX_DESCRIPTION = 30
MAX_PERSON_EX_DESCRIPTION = 60
MAX_FACES_PER_PERSON = 5
MAX_GROUPS_PER_PERSON = 100
MODEL_VERSIONS = ("2.0", "3.0")
DEFAULT_MODEL_VERSION = "3.0"
NEAR_DUPLICATE_SCORE = 99.99  # the same picture again (other shots of a subject score 97-99.97)


@dataclass
class GroupRecord:
    group_id: str
    name: str
    tag: str
    ex_descriptions: list[str]
    face_model_version: str
    created_ms: int
    updated_ms: int
    members: dict[str, None] = field(default_factory=dict)  # person ids, in insertion order


@dataclass(frozen=True)
class FaceRecord:
    face_id: str
    face: Face
    image: bytes  # the image the face came from: kept so --state can rebuild the face


@dataclass
class PersonRecord:
    person_id: str
    name: str
    gender: int
    created_ms: int
    faces: list[FaceRecord] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)  # group id -> PersonExDescriptions


@dataclass(frozen=True)
class Match:
    person: PersonRecord
    face_id: str
    score: float


def now_ms() -> int:
    return int(time.time() * 1000)


def check_id(value: str, *, kind: str) -> None:
    """GroupId / PersonId: letters, digits and -%@#&_, at most 64 bytes."""
    if len(value.encode("utf-8")) > MAX_ID_LENGTH:
        raise invalid_value(f"{kind}IdTooLong", f"{kind}Id is longer than {MAX_ID_LENGTH} bytes.")
    if not ID_PATTERN.fullmatch(value):
        raise invalid_value(f"{kind}IdIllegal", f"{kind}Id may hold only letters, digits and -%@#&_.")


def check_group_name(name: str) -> None:
    if not name.strip():
        raise invalid_value("GroupNameIllegal", "GroupName must not be empty.")
    if len(name) > MAX_GROUP_NAME:
        raise invalid_value("GroupNameTooLong", f"GroupName is longer than {MAX_GROUP_NAME} characters.")


def check_person_name(name: str) -> None:
    if not name.strip():
        raise invalid_value("PersonNameIllegal", "PersonName must not be empty.")
    if len(name) > MAX_PERSON_NAME:
        raise invalid_value("PersonNameTooLong", f"PersonName is longer than {MAX_PERSON_NAME} characters.")


def check_gender(gender: int, *, allow_unset: bool = True) -> None:
    if gender not in ((0, 1, 2) if allow_unset else (1, 2)):
        raise invalid_value("PersonGenderIllegal", "Gender must be 0 (unset), 1 (male) or 2 (female).")


def check_tag(tag: str) -> None:
    if len(tag) > MAX_TAG:
        raise invalid_value("GroupTagTooLong", f"Tag is longer than {MAX_TAG} characters.")


def check_group_ex_descriptions(names: list[str]) -> None:
    if len(names) > MAX_GROUP_EX_DESCRIPTIONS:
        raise invalid_value("GroupExDescriptionsExceed", "A group has at most 5 GroupExDescriptions.")
    for name in names:
        if not name.strip():
            raise invalid_value("GroupExDescriptionsNameIllegal", "A GroupExDescription must not be empty.")
        if len(name) > MAX_GROUP_EX_DESCRIPTION:
            raise invalid_value("GroupExDescriptionsNameTooLong", "A GroupExDescription is at most 30 characters.")
    if len(set(names)) != len(names):
        raise invalid_value("GroupExDescriptionsNameIdentical", "GroupExDescriptions must be distinct.")


def check_offset_limit(offset: int, limit: int, max_limit: int) -> None:
    if offset < 0:
        raise invalid_value("OffsetExceed", "Offset must be >= 0.")
    if not 1 <= limit <= max_limit:
        raise invalid_value("LimitExceed", f"Limit must be in [1, {max_limit}].")


class EmulatorState:
    """One emulated Tencent Cloud account. Per app instance, never global."""

    def __init__(self, model: FaceModel, *, seed: int | None = None) -> None:
        self.model = model
        self.groups: dict[str, GroupRecord] = {}
        self.persons: dict[str, PersonRecord] = {}
        self.face_ids: set[str] = set()
        self._creating_faces: set[str] = set()
        self._rng = random.Random(seed)

    # ---- lookups -------------------------------------------------------------------------
    def group(self, group_id: str) -> GroupRecord:
        found = self.groups.get(group_id)
        if found is None:
            raise invalid_value("GroupIdNotExist", f"The group {group_id!r} does not exist.")
        return found

    def person(self, person_id: str) -> PersonRecord:
        found = self.persons.get(person_id)
        if found is None:
            raise invalid_value("PersonIdNotExist", f"The person {person_id!r} does not exist.")
        return found

    def new_face_id(self) -> str:
        while True:
            face_id = str(self._rng.randrange(10**18, 4 * 10**18))
            if face_id not in self.face_ids:
                self.face_ids.add(face_id)
                return face_id

    # ---- groups --------------------------------------------------------------------------
    def create_group(self, group_id: str, name: str, ex_descriptions: list[str], tag: str, version: str) -> GroupRecord:
        check_id(group_id, kind="Group")
        check_group_name(name)
        check_group_ex_descriptions(ex_descriptions)
        check_tag(tag)
        if version not in MODEL_VERSIONS:
            raise invalid_value("FaceModelVersionIllegal", "FaceModelVersion must be 2.0 or 3.0.")
        if group_id in self.groups:
            raise invalid_value("GroupIdAlreadyExist", f"The group {group_id!r} already exists.")
        if any(g.name == name for g in self.groups.values()):
            raise invalid_value("GroupNameAlreadyExist", f"A group is already named {name!r}.")
        stamp = now_ms()
        record = GroupRecord(group_id, name, tag, list(ex_descriptions), version, stamp, stamp)
        self.groups[group_id] = record
        return record

    def delete_group(self, group_id: str) -> None:
        record = self.group(group_id)
        for person_id in list(record.members):
            self._remove_membership(self.persons[person_id], group_id)
        del self.groups[group_id]

    def modify_group(
        self, group_id: str, name: str | None, descriptions: list[tuple[int, str]] | None, tag: str | None
    ) -> None:
        record = self.group(group_id)
        if name is not None:
            check_group_name(name)
            if any(g.name == name and g.group_id != group_id for g in self.groups.values()):
                raise invalid_value("GroupNameAlreadyExist", f"A group is already named {name!r}.")
        if tag is not None:
            check_tag(tag)
        new_descriptions = list(record.ex_descriptions)
        for index, text in descriptions or ():
            if 0 <= index < len(new_descriptions):
                new_descriptions[index] = text
            elif index == len(new_descriptions):
                new_descriptions.append(text)
            else:
                raise invalid_value("GroupExDescriptionsExceed", f"GroupExDescriptionIndex {index} is out of range.")
        check_group_ex_descriptions(new_descriptions)
        added = len(new_descriptions) - len(record.ex_descriptions)
        record.ex_descriptions = new_descriptions
        if added:
            for person_id in record.members:
                self.persons[person_id].groups[group_id].extend([""] * added)
        if name is not None:
            record.name = name
        if tag is not None:
            record.tag = tag
        record.updated_ms = now_ms()

    def group_page(self, offset: int, limit: int) -> tuple[list[GroupRecord], int]:
        check_offset_limit(offset, limit, 1000)
        records = list(self.groups.values())
        return records[offset : offset + limit], len(records)

    def group_face_count(self, group: GroupRecord) -> int:
        return sum(len(self.persons[p].faces) for p in group.members)

    # ---- persons -------------------------------------------------------------------------
    def check_new_person(self, group_id: str, person_id: str, name: str, gender: int) -> GroupRecord:
        """Every rule CreatePerson checks before looking at the image."""
        check_id(person_id, kind="Person")
        check_person_name(name)
        check_gender(gender)
        group = self.group(group_id)
        if person_id in self.persons:
            raise invalid_value("PersonIdAlreadyExist", f"The person {person_id!r} already exists.")
        return group

    def person_ex_descriptions(
        self, group: GroupRecord, infos: list[tuple[int, str]] | None, current: list[str] | None = None
    ) -> list[str]:
        values = list(current) if current is not None else [""] * len(group.ex_descriptions)
        seen: set[int] = set()
        for index, text in infos or ():
            if not 0 <= index < len(group.ex_descriptions):
                raise invalid_value(
                    "PersonExDescriptionInfosExceed",
                    f"PersonExDescriptionIndex {index} is not one of the group's GroupExDescriptions.",
                )
            if index in seen:
                raise invalid_value(
                    "PersonExDescriptionsNameIdentical", f"PersonExDescriptionIndex {index} given twice."
                )
            if len(text) > MAX_PERSON_EX_DESCRIPTION:
                raise invalid_value(
                    "PersonExDescriptionsNameTooLong", "A PersonExDescription is at most 60 characters."
                )
            seen.add(index)
            values[index] = text
        return values

    def similar_person(self, group: GroupRecord, face: Face, threshold: float) -> str | None:
        best: tuple[float, str] | None = None
        for person_id in group.members:
            for record in self.persons[person_id].faces:
                score = self.model.score(face, record.face)
                if score >= threshold and (best is None or score > best[0]):
                    best = (score, person_id)
        return None if best is None else best[1]

    def add_person(
        self,
        group: GroupRecord,
        person_id: str,
        name: str,
        gender: int,
        descriptions: list[str],
        face: Face,
        image: bytes,
    ) -> tuple[PersonRecord, FaceRecord]:
        if person_id in self.persons:  # re-checked: the image was analysed since check_new_person
            raise invalid_value("PersonIdAlreadyExist", f"The person {person_id!r} already exists.")
        face_record = FaceRecord(self.new_face_id(), face, image)
        person = PersonRecord(person_id, name, gender, now_ms(), [face_record], {group.group_id: descriptions})
        self.persons[person_id] = person
        group.members[person_id] = None
        return person, face_record

    def delete_person(self, person_id: str) -> None:
        person = self.person(person_id)
        for group_id in list(person.groups):
            self.groups[group_id].members.pop(person_id, None)
        self._forget(person)

    def _forget(self, person: PersonRecord) -> None:
        for record in person.faces:
            self.face_ids.discard(record.face_id)
        self.persons.pop(person.person_id, None)

    def _remove_membership(self, person: PersonRecord, group_id: str) -> None:
        """Take the person out of one group; a person left in no group is deleted, as v3 does."""
        person.groups.pop(group_id, None)
        self.groups[group_id].members.pop(person.person_id, None)
        if not person.groups:
            self._forget(person)

    def delete_person_from_group(self, person_id: str, group_id: str) -> None:
        person = self.person(person_id)
        self.group(group_id)
        if group_id not in person.groups:
            raise failed("GroupPersonMapNotExist", f"The person {person_id!r} is not in {group_id!r}.")
        self._remove_membership(person, group_id)

    def copy_person(self, person_id: str, group_ids: list[str]) -> list[str]:
        person = self.person(person_id)
        if not group_ids:
            raise EmulatorError("MissingParameter", "GroupIds must not be empty.")
        if len(group_ids) > MAX_GROUPS_PER_PERSON:
            raise invalid_value("GroupIdsExceed", "At most 100 GroupIds.")
        targets = [self.group(group_id) for group_id in dict.fromkeys(group_ids)]
        new = [g for g in targets if g.group_id not in person.groups]
        if len(person.groups) + len(new) > MAX_GROUPS_PER_PERSON:
            raise invalid_value("GroupNumPerPersonExceed", "A person can be in at most 100 groups.")
        for group in new:
            person.groups[group.group_id] = [""] * len(group.ex_descriptions)
            group.members[person_id] = None
        return [g.group_id for g in new]

    def modify_person(self, person_id: str, name: str | None, gender: int | None) -> None:
        person = self.person(person_id)
        if name is not None:
            check_person_name(name)
        if gender is not None:
            check_gender(gender, allow_unset=False)
        if name is not None:
            person.name = name
        if gender is not None:
            person.gender = gender

    def modify_person_group_info(self, group_id: str, person_id: str, infos: list[tuple[int, str]]) -> None:
        group = self.group(group_id)
        person = self.person(person_id)
        if group_id not in person.groups:
            raise failed("GroupPersonMapNotExist", f"The person {person_id!r} is not in {group_id!r}.")
        person.groups[group_id] = self.person_ex_descriptions(group, infos, person.groups[group_id])

    def person_groups_page(self, person_id: str, offset: int, limit: int) -> tuple[list[tuple[str, list[str]]], int]:
        check_offset_limit(offset, limit, 100)
        person = self.person(person_id)
        items = list(person.groups.items())
        return items[offset : offset + limit], len(items)

    def person_page(self, group_id: str, offset: int, limit: int) -> tuple[list[PersonRecord], int, int]:
        check_offset_limit(offset, limit, 1000)
        group = self.group(group_id)
        people = [self.persons[p] for p in group.members]
        return people[offset : offset + limit], len(people), self.group_face_count(group)

    # ---- faces ---------------------------------------------------------------------------
    @contextmanager
    def creating_faces(self, person_id: str) -> Iterator[PersonRecord]:
        """Marks a CreateFace in progress on a person for the whole call; a second one is refused."""
        person = self.person(person_id)
        if person_id in self._creating_faces:
            raise failed("CreateFaceConcurrent", f"A CreateFace on {person_id!r} is already in progress.")
        self._creating_faces.add(person_id)
        try:
            yield person
        finally:
            self._creating_faces.discard(person_id)

    def check_face_room(self, person: PersonRecord, new: int) -> None:
        if new > MAX_FACES_PER_PERSON:
            raise invalid_value("UploadFaceNumExceed", "At most 5 images per CreateFace.")
        if len(person.faces) + new > MAX_FACES_PER_PERSON:
            raise invalid_value("PersonFaceNumExceed", "A person has at most 5 faces.")

    def face_admission(self, person: PersonRecord, face: Face, threshold: float) -> int:
        """0 if `face` may join `person`, else CreateFace's per-image RetCode."""
        if not person.faces:
            return 0
        scores = [self.model.score(face, record.face) for record in person.faces]
        if max(scores) >= NEAR_DUPLICATE_SCORE:
            return -1312  # almost the same face as one the person already has
        if max(scores) < threshold:
            return -1604  # not similar enough to the person's faces
        return 0

    def add_face(self, person: PersonRecord, face: Face, image: bytes) -> FaceRecord:
        if person.person_id not in self.persons:
            raise invalid_value("PersonIdNotExist", f"The person {person.person_id!r} does not exist.")
        record = FaceRecord(self.new_face_id(), face, image)
        person.faces.append(record)
        return record

    def delete_faces(self, person_id: str, face_ids: list[str]) -> list[str]:
        person = self.person(person_id)
        wanted = set(face_ids)
        doomed = [f.face_id for f in person.faces if f.face_id in wanted]
        if doomed and len(doomed) >= len(person.faces):
            raise invalid_value("DeleteFaceNumExceed", "A person must keep at least one face.")
        person.faces = [f for f in person.faces if f.face_id not in wanted]
        for face_id in doomed:
            self.face_ids.discard(face_id)
        return doomed

    # ---- search --------------------------------------------------------------------------
    def search_groups(self, group_ids: list[str]) -> list[GroupRecord]:
        if not group_ids:
            raise EmulatorError("MissingParameter", "GroupIds must not be empty.")
        if len(group_ids) > 100:
            raise invalid_value("GroupIdsExceed", "At most 100 GroupIds.")
        groups = [self.group(g) for g in dict.fromkeys(group_ids)]
        if len({g.face_model_version for g in groups}) > 1:
            raise failed("AcrossVersionsError", "Groups of different FaceModelVersion cannot be searched together.")
        return groups

    def members(self, groups: Iterable[GroupRecord]) -> list[PersonRecord]:
        seen: dict[str, PersonRecord] = {}
        for group in groups:
            for person_id in group.members:
                seen.setdefault(person_id, self.persons[person_id])
        return list(seen.values())

    def best_matches(self, face: Face, persons: Iterable[PersonRecord]) -> list[Match]:
        """Each person's best face against `face`, best first."""
        matches: list[Match] = []
        for person in persons:
            best = max(
                ((self.model.score(face, record.face), record.face_id) for record in person.faces),
                default=None,
            )
            if best is not None:
                matches.append(Match(person, best[1], round(best[0], 2)))
        matches.sort(key=lambda m: (-m.score, m.person.person_id))
        return matches
