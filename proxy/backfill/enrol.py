"""Enrolling one person's rows in order through the live ops: checkpoint, call, record; reconcile after a crash.

Idempotency: an item's intent ("pending") is committed before its first v3 write and its outcome
after. An item found pending (killed mid-call) or failed may have left writes in v3; before it is
run again, v3 is read back through getinfo:
- newperson: a person found is one this backfill created (it recorded the intent, and a person that
  existed before is refused with -1302, which is recorded as such): it is deleted through delperson
  and created again, so groups, name, tag and face records are all written by newperson itself.
- addface: faces of the person that no applied item of it recorded are this item's. One with its face
  record in the store is adopted (the call completed, only the checkpoint was lost); one without is
  deleted through delface and the face added again. More than one recorded stranger: refused, never guessed.

Transient failures (v3's internal error, a timeout, a dropped connection, a malformed reply,
contention) are retried within the run, up to ATTEMPTS times with jittered, growing pauses: each
retry first reconciles as above (a write that failed half-way may have left the person or a face
in v3), after waiting `journal.settle_after_s` when no reply came (v3 may still be applying the
call). Only a permanent refusal (bad image, no face, ...) or the last attempt fails the item.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from proxy.backfill.checkpoints import Checkpoint, Checkpoints, Item, State
from proxy.backfill.groups import GroupGate, GroupKey
from proxy.backfill.index import Person
from proxy.backfill.live import LiveOps, UpstreamError
from proxy.backfill.manifest import ManifestRow
from proxy.domain.codes import V1Error
from proxy.domain.requests import AddFace, DelFace, DelPerson, GetFaceInfo, GetInfo, ImageSource, NewPerson, Target
from proxy.handlers.ops import ADDFACE, DELFACE, DELPERSON, GETFACEINFO, GETINFO, NEWPERSON

Status = Literal["enrolled", "added", "skipped", "failed", "blocked"]
FAILED: frozenset[Status] = frozenset({"failed", "blocked"})
PERSON_MISSING = -1303
FACE_MISSING = -1305
UNRECONCILABLE = -1  # v1's generic failure: the item's state in v3 cannot be told apart from others' writes
ATTEMPTS = 6  # tries of an item that keeps failing transiently, the first one included
RETRY_PAUSE_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # before each retry (full jitter); the last repeats
STOP_POLL_S = 0.25  # a pause before a retry ends this soon after Ctrl-C / SIGTERM


class Stopped(Exception):
    """A stop was requested while an item waited to be retried: it is left pending, not failed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one item in this run (one line of the report)."""

    row: ManifestRow
    op: str
    status: Status
    face_id: str = ""
    code: int = 0
    message: str = ""
    request_id: str = ""
    retries: int = 0  # transient failures retried in this run before this outcome


@dataclass(frozen=True)
class Enroller:
    """Everything one person's enrolment needs; `stopping()` is checked between items."""

    ops: LiveOps
    checkpoints: Checkpoints
    image_path: Callable[[str], Path]
    stopping: Callable[[], bool]
    retry_failed: bool = False
    groups: GroupGate = field(default_factory=GroupGate)

    async def person(self, person: Person, emit: Callable[[Outcome], None]) -> bool:
        """Run the person's rows in order, calling `emit` for each one finished; False when stopped before the end."""
        found = await self.checkpoints.get([r.item_key for r in person.rows])
        known = {c.face_id for c in found.values() if c.state == "applied" and c.face_id}
        blocked_by: Outcome | None = None
        for index, row in enumerate(person.rows):
            op = "newperson" if index == 0 else "addface"
            if blocked_by is not None:
                emit(_blocked(row, op, blocked_by))
                continue
            if self.stopping():
                return False
            try:
                outcome = await self._item(row, op, found.get(row.item_key), known)
            except Stopped:
                return False
            if outcome.face_id and outcome.status != "failed":
                known.add(outcome.face_id)
            if index == 0 and outcome.status == "failed":
                blocked_by = outcome
            emit(outcome)
        return True

    async def _item(self, row: ManifestRow, op: str, checkpoint: Checkpoint | None, known: set[str]) -> Outcome:
        if checkpoint is not None and checkpoint.state == "applied":
            return Outcome(row, op, "skipped", checkpoint.face_id, message="done in an earlier run")
        if checkpoint is not None and checkpoint.state == "failed" and not self.retry_failed:
            return Outcome(row, op, "failed", "", checkpoint.code, checkpoint.message, checkpoint.request_id)
        dirty = checkpoint is not None and checkpoint.may_have_written  # v3 may hold writes of this item
        opened = checkpoint is not None and checkpoint.state == "pending"
        retries = 0
        while True:
            try:
                if dirty:
                    adopted = await self._reconcile(row, op, known)
                    if adopted is not None:
                        return await self._record(replace(adopted, retries=retries))
                if not opened:
                    await self.checkpoints.put(Checkpoint(row.item_key, "pending"), self._item_of(row, op))
                    opened = True
                outcome = await self._run(row, op)
            except UpstreamError as exc:
                if not exc.transient or retries + 1 >= ATTEMPTS:
                    return await self._record(_failed(row, op, exc, retries))
                retries += 1
                dirty = True  # a write that failed half-way (or without an answer) may have left something
                if not await self._pause_unless_stopping(self._pause(retries, exc)):
                    raise Stopped from None  # the item stays pending: the resumed run reconciles it
                continue
            except V1Error as exc:  # refused by the proxy itself (reconciling)
                return await self._record(_failed(row, op, exc, retries))
            return await self._record(replace(outcome, retries=retries))

    async def _pause_unless_stopping(self, seconds: float) -> bool:
        """Sleep `seconds` (or until a stop is requested): False when stopping."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self.stopping():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return True
            await asyncio.sleep(min(left, STOP_POLL_S))
        return False

    def _pause(self, retry: int, exc: UpstreamError) -> float:
        """Before retry number `retry`: jittered backoff; at least the settle time when v3 never answered."""
        pause = random.uniform(0.0, RETRY_PAUSE_S[min(retry, len(RETRY_PAUSE_S)) - 1])
        if exc.outcome_unknown:
            pause = max(pause, self.ops.services.journal.settle_after_s)
        return pause

    async def _record(self, outcome: Outcome) -> Outcome:
        state: State = "failed" if outcome.status == "failed" else "applied"
        row = outcome.row
        await self.checkpoints.put(
            Checkpoint(row.item_key, state, outcome.face_id, outcome.code, outcome.message, outcome.request_id),
            self._item_of(row, outcome.op),
        )
        return outcome

    def _item_of(self, row: ManifestRow, op: str) -> Item:
        namespace = self.ops.services.scope(_target(row)).store_key
        return Item(namespace=namespace, op=op, person_id=row.person_id, line=row.line)

    async def _run(self, row: ManifestRow, op: str) -> Outcome:
        try:
            image = await self.image_of(row)
            if op == "newperson":
                new = NewPerson(row.person_id, row.group_ids, image, row.person_name, row.tag)
                async with self.groups.turn(_groups(row)):
                    created = await self.ops.run(NEWPERSON, _target(row), new)
                    self.groups.known(_groups(row))
                if not created.face_id:
                    return Outcome(row, op, "failed", "", -1101, "person created without a face", created.session_id)
                return Outcome(row, op, "enrolled", created.face_id, request_id=created.session_id)
            face_tag = row.face_tag if row.face_tag is not None else row.tag
            added = await self.ops.run(ADDFACE, _target(row), AddFace(row.person_id, (image,), face_tag))
        except UpstreamError as exc:
            if exc.transient:
                raise  # retried by _item
            return _failed(row, op, exc, 0)
        except V1Error as exc:
            return _failed(row, op, exc, 0)
        except OSError as exc:
            return Outcome(row, op, "failed", "", -1300, f"image {row.image!r}: {exc.strerror or exc}")
        if not added.added:
            code = added.ret_codes[0] if added.ret_codes else -1101
            return Outcome(row, op, "failed", "", code, "the face was not added", added.session_id)
        return Outcome(row, op, "added", added.face_ids[0], request_id=added.session_id)

    async def image_of(self, row: ManifestRow) -> ImageSource:
        if row.is_url:
            return ImageSource(url=row.image)
        return ImageSource(data=await asyncio.to_thread(self.image_path(row.image).read_bytes))

    async def _reconcile(self, row: ManifestRow, op: str, known: set[str]) -> Outcome | None:
        """Undo or adopt what an earlier attempt of this item left in v3; an Outcome when adopted."""
        try:
            info = await self.ops.run(GETINFO, _target(row), GetInfo(row.person_id))
        except V1Error as exc:
            if exc.code == PERSON_MISSING:
                return None
            raise
        if op == "newperson":
            await self.ops.run(DELPERSON, _target(row), DelPerson(row.person_id))
            return None
        strangers = [f for f in info.face_ids if f not in known]
        recorded = [f for f in strangers if await self._has_record(row, f)]
        unrecorded = [f for f in strangers if f not in recorded]
        if len(recorded) > 1:
            return Outcome(
                row, op, "failed", "", UNRECONCILABLE,
                f"cannot tell which of faces {', '.join(recorded)} this item added; check the person by hand",
            )  # fmt: skip
        if unrecorded:
            await self.ops.run(DELFACE, _target(row), DelFace(row.person_id, tuple(unrecorded)))
        if recorded:
            return Outcome(row, op, "added", recorded[0], message="completed by an earlier run")
        return None

    async def _has_record(self, row: ManifestRow, face_id: str) -> bool:
        try:
            await self.ops.run(GETFACEINFO, _target(row), GetFaceInfo(face_id))
        except V1Error as exc:
            if exc.code == FACE_MISSING:
                return False
            raise
        return True


def _target(row: ManifestRow) -> Target:
    return Target(appid=row.appid, bucket=row.bucket or None)


def _failed(row: ManifestRow, op: str, exc: V1Error, retries: int) -> Outcome:
    return Outcome(row, op, "failed", "", exc.code, exc.message, exc.session_id or "", retries)


def _groups(row: ManifestRow) -> list[GroupKey]:
    return [(row.appid, row.bucket, group) for group in row.group_ids]


def _blocked(row: ManifestRow, op: str, first: Outcome) -> Outcome:
    message = f"not attempted: the person's first row (line {first.row.line}) failed: {first.message}"
    return Outcome(row, op, "blocked", "", first.code, message)
