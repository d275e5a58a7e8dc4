"""What the proxy keeps about persons and faces that v3 cannot: the records and the FaceStore protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from proxy.domain.faces import FaceAttributes
from proxy.store.journal import Journal


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person's v1 name and tag, under the v1 person id, in a tenant's namespace."""

    namespace: str
    person_id: str  # the v1 id, exactly as the app sent it
    name: str | None
    tag: str | None


@dataclass(frozen=True, slots=True)
class FaceRecord:
    """A face's v1 tag and the attributes captured when it was added (v3 keeps none per face)."""

    namespace: str
    face_id: str
    person_id: str
    tag: str | None
    attributes: FaceAttributes


class StoreError(Exception):
    """The store cannot be opened or used as configured (bad URL, schema newer than the code, …)."""


class StoreUnavailable(StoreError):
    """The store's server cannot be reached now (down, restarting, network): worth retrying later."""


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """A server store's connection pool (store.pool_min / pool_max / connect_timeout_s / command_timeout_s)."""

    minimum: int = 1
    maximum: int = 10
    connect_timeout_s: float = 5.0
    command_timeout_s: float = 10.0


DEFAULT_POOL = PoolOptions()


class FaceStore(Journal, Protocol):
    """Storage of person and face records and the write journal; every method is scoped by namespace."""

    async def put_person(self, record: PersonRecord) -> None:
        """Insert or replace the person's record."""
        ...

    async def get_person(self, namespace: str, person_id: str) -> PersonRecord | None: ...

    async def update_person(
        self, namespace: str, person_id: str, *, name: str | None = None, tag: str | None = None
    ) -> None:
        """Set only the given (non-None) fields; creates the row if missing."""
        ...

    async def delete_person(self, namespace: str, person_id: str) -> None:
        """Delete the person and all their faces, in one transaction."""
        ...

    async def put_faces(self, records: Sequence[FaceRecord]) -> None:
        """Insert or replace face records, all in one transaction."""
        ...

    async def get_face(self, namespace: str, face_id: str) -> FaceRecord | None: ...

    async def get_faces(self, namespace: str, face_ids: Sequence[str]) -> Mapping[str, FaceRecord]:
        """The known faces among face_ids, by face id (unknown ids are simply absent)."""
        ...

    async def get_person_faces(self, namespace: str, person_id: str) -> Sequence[FaceRecord]:
        """Every face record of one person, by face id."""
        ...

    async def delete_faces(self, namespace: str, face_ids: Sequence[str]) -> None: ...

    async def ping(self) -> bool:
        """True when the store answers a trivial query (readiness)."""
        ...

    async def close(self) -> None: ...
