"""Per-item progress of a backfill: the intent before an item's v3 writes, its outcome after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

State = Literal["pending", "applied", "failed"]
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


def store_checkpoints(store: object) -> Checkpoints:
    """The checkpoints of a run. In memory for now (a run cannot be resumed yet): they move to the store's
    write journal (kind "backfill") as soon as the store has one."""
    return MemoryCheckpoints()
