"""What every handler works with: the v3 client, the store, the maps, and one tenant's scope."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from proxy.store.base import FaceStore
from proxy.translate.errors import ErrorMap
from proxy.translate.ids import IdTooLong, Namespace, decode_id, encode_id, tenant_namespace
from proxy.translate.scores import Calibration
from proxy.v1.errors import V1Error
from proxy.v1.requests import Target
from proxy.v3.client import V3Client


@dataclass(frozen=True)
class TenantPolicy:
    """Per-tenant choices: `isolated=False` keeps clean, unprefixed v3 ids."""

    isolated: bool = True


class PersonLocks:
    """Serialises writes to one person (v3 refuses concurrent CreateFace for a person)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # nobody waits: forget it, so the table stays small
                del self._users[key], self._locks[key]


@dataclass(frozen=True)
class Services:
    """Everything a handler needs; rebuilt on reload, so handlers never cache parts of it."""

    v3: V3Client
    store: FaceStore
    errors: ErrorMap
    calibration: Calibration
    tenants: Mapping[str, TenantPolicy]
    capture_face_attributes: bool = True
    locks: PersonLocks = field(default_factory=PersonLocks)


@dataclass(frozen=True)
class Scope:
    """One tenant's view: its id namespace on v3 and its key in the store."""

    namespace: Namespace
    store_key: str

    @classmethod
    def of(cls, target: Target, services: Services) -> Scope:
        policy = services.tenants.get(target.appid, TenantPolicy())
        ns = tenant_namespace(target.appid, target.bucket, isolated=policy.isolated)
        return cls(namespace=ns, store_key=f"{target.appid}/{target.bucket or ''}")

    def v3_id(self, v1_id: str) -> str:
        try:
            return encode_id(self.namespace, v1_id)
        except IdTooLong:
            raise V1Error(-1304, f"id too long for v3 once encoded: {v1_id[:40]!r}") from None

    def writer_key(self, v3_person_id: str) -> str:
        """The key writes to one person are serialised under (see PersonLocks)."""
        return f"{self.store_key}\x00{v3_person_id}"

    def v1_id(self, v3_id: str) -> str | None:
        return decode_id(self.namespace, v3_id)
