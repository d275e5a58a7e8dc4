"""The single-use signature replay guard: one protocol, an in-process table (capacity per tenant) or Redis.

A single-use v1 signature (``e=0``) may be accepted once within its window. The guard records
each one by the SHA-256 of its bytes until the window closes; `remember` answers False for a
replay. Only signatures whose HMAC checked out reach it, so only a key holder can fill it.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Protocol


class ReplayGuardFull(Exception):
    """The in-process table holds `capacity` live signatures of this tenant: refuse rather than forget one."""


class ReplayStoreUnavailable(Exception):
    """The shared store (Redis) did not answer: a single-use signature cannot be checked, so it is refused."""


def signature_digest(signature: bytes) -> bytes:
    return hashlib.sha256(signature).digest()


class ReplayGuard(Protocol):
    """Remembers single-use signatures until their replay window closes (wall-clock seconds)."""

    async def remember(self, tenant: str, signature: bytes, *, until: float, now: float) -> bool:
        """Record a signature of `tenant`; False when it was already seen (a replay).

        Raises ReplayGuardFull or ReplayStoreUnavailable when it cannot tell."""
        ...


class LocalReplayGuard:
    """One process's table, bounded per tenant: one tenant filling its part never refuses another's.

    When a tenant's table is full of live entries it raises ReplayGuardFull rather than forget one
    (which would let that signature be replayed). Check-and-add is one critical section.
    """

    def __init__(self, *, capacity_per_tenant: int = 100_000) -> None:
        if capacity_per_tenant < 1:
            raise ValueError("capacity_per_tenant must be positive")
        self._capacity = capacity_per_tenant
        self._until: dict[str, dict[bytes, float]] = {}  # tenant -> digest -> forget after
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return sum(len(table) for table in self._until.values())

    async def remember(self, tenant: str, signature: bytes, *, until: float, now: float) -> bool:
        return self.remember_now(tenant, signature, until=until, now=now)

    def remember_now(self, tenant: str, signature: bytes, *, until: float, now: float) -> bool:
        digest = signature_digest(signature)
        with self._lock:
            table = self._until.setdefault(tenant, {})
            seen = table.get(digest)
            if seen is not None and seen >= now:
                return False
            if len(table) >= self._capacity:
                for old in [d for d, forget_after in table.items() if forget_after < now]:
                    del table[old]
                if len(table) >= self._capacity:
                    raise ReplayGuardFull(tenant)
            table[digest] = until
            return True
