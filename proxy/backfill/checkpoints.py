"""Per-item progress of a backfill: the intent before an item's v3 writes, its outcome after."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from proxy.store.base import FaceStore
from proxy.store.journal import JournalEntry, JournalIntent

State = Literal["pending", "applied", "failed"]
DEDUPE_PREFIX = "backfill:"  # + the item key: one journal entry per manifest item, across runs
PERSON_EXISTED = -1302  # newperson refused because the person was there before this backfill touched it


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """An item's last recorded state. "pending": its writes may or may not have reached v3 (crash, timeout)."""

    key: str
    state: State
    face_id: str = ""
    code: int = 0
    message: str = ""
    request_id: str = ""

    @property
    def may_have_written(self) -> bool:
        """Whether v3 may hold writes of this item that its outcome does not show."""
        return self.state == "pending" or (self.state == "failed" and self.code != PERSON_EXISTED)


@dataclass(frozen=True, slots=True)
class Item:
    """Whose item a checkpoint is: the tenant's store namespace, the op, the v1 person id, the manifest line."""

    namespace: str
    op: str
    person_id: str
    line: int


class Checkpoints(Protocol):
    """Where checkpoints are kept: durably, so that a SIGKILL loses nothing recorded."""

    async def get(self, keys: Sequence[str]) -> Mapping[str, Checkpoint]:
        """The recorded checkpoints among these item keys (items never started are absent)."""
        ...

    async def put(self, checkpoint: Checkpoint, item: Item) -> None:
        """Record it durably (committed before returning)."""
        ...


class MemoryCheckpoints:
    """Checkpoints in a dict: for tests of one layer, and runs that need no resume."""

    def __init__(self) -> None:
        self.entries: dict[str, Checkpoint] = {}

    async def get(self, keys: Sequence[str]) -> Mapping[str, Checkpoint]:
        return {k: self.entries[k] for k in keys if k in self.entries}

    async def put(self, checkpoint: Checkpoint, item: Item) -> None:
        self.entries[checkpoint.key] = checkpoint


class JournalCheckpoints:
    """Checkpoints as entries of kind "backfill" in the store's write journal, one per item (dedupe key: the item's).

    The entry's payload holds the item's outcome (face id, v1 code, message, RequestId); its state is the
    journal's (pending / applied / failed; "unknown" reads as pending). A person created is also marked
    known in v3, so data-aware reads count a backfilled person as there.
    """

    def __init__(self, store: FaceStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._entry_ids: dict[str, int] = {}  # item key -> entry id, while the item is pending

    async def get(self, keys: Sequence[str]) -> Mapping[str, Checkpoint]:
        found: dict[str, Checkpoint] = {}
        for key in keys:
            entry = await self._store.journal_find(DEDUPE_PREFIX + key)
            if entry is not None:
                found[key] = _checkpoint(key, entry)
        return found

    async def put(self, checkpoint: Checkpoint, item: Item) -> None:
        now = self._clock()
        key = checkpoint.key
        entry_id = self._entry_ids.get(key)
        if entry_id is None:
            opened = await self._store.journal_open(
                JournalIntent(
                    kind="backfill", namespace=item.namespace, op=item.op, person_id=item.person_id,
                    payload={"line": item.line}, dedupe_key=DEDUPE_PREFIX + key,
                ),
                now=now,
            )  # fmt: skip
            entry_id = self._entry_ids[key] = opened.entry.entry_id
            if checkpoint.state == "pending" and opened.created:
                return
        payload = {
            "line": item.line, "face_id": checkpoint.face_id, "code": checkpoint.code,
            "message": checkpoint.message, "request_id": checkpoint.request_id,
        }  # fmt: skip
        error = f"[{checkpoint.code}] {checkpoint.message}" if checkpoint.state == "failed" else None
        await self._store.journal_complete(entry_id, checkpoint.state, now=now, error=error, payload=payload)
        if checkpoint.state != "pending":
            self._entry_ids.pop(key, None)
        if checkpoint.state == "applied" and item.op == "newperson":
            await self._store.mark_known_in_v3(item.namespace, item.person_id, "backfill", now=now)


def _checkpoint(key: str, entry: JournalEntry) -> Checkpoint:
    payload = entry.payload
    state: State = "pending" if entry.state == "unknown" else entry.state
    return Checkpoint(
        key=key,
        state=state,
        face_id=str(payload.get("face_id") or ""),
        code=int(payload.get("code") or 0),
        message=str(payload.get("message") or ""),
        request_id=str(payload.get("request_id") or ""),
    )
