"""Typed v1 requests, one frozen dataclass per op, and whose data a request addresses (Target)."""

from __future__ import annotations

from dataclasses import dataclass

Blob = bytes | memoryview
"""An image as received: a view into the request body (multipart) or decoded base64 (JSON)."""


@dataclass(frozen=True, slots=True)
class ImageSource:
    """One image as the app gave it: a url, or the bytes. The url wins when both are given."""

    url: str | None = None
    data: Blob | None = None

    def __post_init__(self) -> None:
        if self.url is None and self.data is None:
            raise ValueError("an ImageSource needs a url or data")

    def __repr__(self) -> str:  # never print image bytes
        size = None if self.data is None else len(self.data)
        return f"ImageSource(url={self.url!r}, data_bytes={size!r})"


@dataclass(frozen=True, slots=True)
class Target:
    """Whose data a request addresses: the v1 appid and (optional) bucket."""

    appid: str
    bucket: str | None


@dataclass(frozen=True, slots=True)
class NewPerson:
    person_id: str
    group_ids: tuple[str, ...]
    image: ImageSource
    person_name: str | None
    tag: str | None


@dataclass(frozen=True, slots=True)
class DelPerson:
    person_id: str


@dataclass(frozen=True, slots=True)
class AddFace:
    person_id: str
    images: tuple[ImageSource, ...]
    tag: str | None


@dataclass(frozen=True, slots=True)
class DelFace:
    person_id: str
    face_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SetInfo:
    person_id: str
    person_name: str | None
    tag: str | None


@dataclass(frozen=True, slots=True)
class GetInfo:
    person_id: str


@dataclass(frozen=True, slots=True)
class GetGroupIds:
    pass


@dataclass(frozen=True, slots=True)
class GetPersonIds:
    group_id: str


@dataclass(frozen=True, slots=True)
class GetFaceIds:
    person_id: str


@dataclass(frozen=True, slots=True)
class GetFaceInfo:
    face_id: str


@dataclass(frozen=True, slots=True)
class Verify:
    person_id: str
    image: ImageSource


@dataclass(frozen=True, slots=True)
class Identify:
    group_id: str
    image: ImageSource


@dataclass(frozen=True, slots=True)
class Compare:
    image_a: ImageSource
    image_b: ImageSource


V1Request = (
    NewPerson
    | DelPerson
    | AddFace
    | DelFace
    | SetInfo
    | GetInfo
    | GetGroupIds
    | GetPersonIds
    | GetFaceIds
    | GetFaceInfo
    | Verify
    | Identify
    | Compare
)


@dataclass(frozen=True, slots=True)
class V1Call:
    """One parsed v1 call: the op name, whose data it addresses, and its typed request."""

    op: str
    target: Target
    request: V1Request
