"""What every handler works with: the v3 client, the store, the maps, the per-person write locks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from proxy.domain.requests import Target
from proxy.handlers.journal import JournalPolicy
from proxy.store.base import FaceStore
from proxy.translate.errors import ErrorMap
from proxy.translate.scope import Scope
from proxy.translate.scores import Calibration
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


DEFAULT_POLICY = TenantPolicy()


@dataclass(frozen=True)
class Services:
    """Everything a handler needs; rebuilt on reload, so handlers never cache parts of it."""

    v3: V3Client
    store: FaceStore
    errors: ErrorMap
    calibration: Calibration
    tenants: Mapping[str, TenantPolicy]
    capture_face_attributes: bool = True
    tenant_calibrations: Mapping[str, Calibration] = field(default_factory=dict)  # scores.tenants
    locks: PersonLocks = field(default_factory=PersonLocks)
    journal: JournalPolicy = field(default_factory=JournalPolicy)
    _scopes: dict[tuple[str, str | None], Scope] = field(default_factory=dict, init=False, repr=False, compare=False)

    def calibration_of(self, appid: str) -> Calibration:
        """The calibration (curve and threshold) in force for a tenant: its own (scores.tenants), else the global."""
        return self.tenant_calibrations.get(appid, self.calibration)

    def scope(self, target: Target) -> Scope:
        """The tenant scope of a target (appid + bucket) under this configuration's tenant policies."""
        key = (target.appid, target.bucket)
        found = self._scopes.get(key)  # a hash per request saved: most requests name a few targets
        if found is None:
            if len(self._scopes) >= 4096:  # bounded (any bucket may be sent)
                self._scopes.clear()
            policy = self.tenants.get(target.appid, DEFAULT_POLICY)
            found = self._scopes[key] = Scope.of(target.appid, target.bucket, isolated=policy.isolated)
        return found
