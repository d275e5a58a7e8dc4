"""Typed v1 results, one frozen dataclass per op; field names and types are the v1 JSON's (seed 002_)."""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.domain.faces import FaceAttributes

INLINE = "v1_inline"
"""Field metadata key: the rendered JSON writes this dataclass field's own fields in place of it."""


@dataclass(frozen=True, slots=True)
class NewPersonResult:
    session_id: str
    suc_group: int
    suc_face: int
    person_id: str
    face_id: str
    group_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DelPersonResult:
    session_id: str
    person_id: str
    deleted: int


@dataclass(frozen=True, slots=True)
class AddFaceResult:
    session_id: str
    added: int
    face_ids: tuple[str, ...]
    ret_codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DelFaceResult:
    session_id: str
    deleted: int
    face_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetInfoResult:
    session_id: str
    person_id: str


@dataclass(frozen=True, slots=True)
class GetInfoResult:
    session_id: str
    person_id: str
    person_name: str
    face_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    tag: str


@dataclass(frozen=True, slots=True)
class GetGroupIdsResult:
    session_id: str
    group_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetPersonIdsResult:
    session_id: str
    person_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetFaceIdsResult:
    session_id: str
    face_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaceInfo:
    """v1 FaceItem: the face id, then its attributes written inline (``{"face_id", "x", "y", ...}``)."""

    face_id: str
    attributes: FaceAttributes = field(metadata={INLINE: True})


@dataclass(frozen=True, slots=True)
class GetFaceInfoResult:
    session_id: str
    face_info: FaceInfo


@dataclass(frozen=True, slots=True)
class VerifyResult:
    session_id: str
    confidence: float
    ismatch: bool


@dataclass(frozen=True, slots=True)
class IdentifyCandidate:
    person_id: str
    face_id: str
    confidence: float
    tag: str


@dataclass(frozen=True, slots=True)
class IdentifyResult:
    session_id: str
    candidates: tuple[IdentifyCandidate, ...]


@dataclass(frozen=True, slots=True)
class CompareResult:
    session_id: str
    similarity: float


V1Result = (
    NewPersonResult
    | DelPersonResult
    | AddFaceResult
    | DelFaceResult
    | SetInfoResult
    | GetInfoResult
    | GetGroupIdsResult
    | GetPersonIdsResult
    | GetFaceIdsResult
    | GetFaceInfoResult
    | VerifyResult
    | IdentifyResult
    | CompareResult
)
