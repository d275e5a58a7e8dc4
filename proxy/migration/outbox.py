"""The dual-write outbox: writes owed to the other backend, kept in the store's journal, replayed with backoff.

- `owe` records a write the serving side has done (kind "outbox", target v1 or v3) with its
  images as blobs; it is durable once `owe` returns, so a crash after the answer loses nothing.
- `Replayer` takes due entries (leased, so two processes never replay one entry), replays each
  on its target -- v3 through the proxy's own op table (`run_op`), v1 as a request signed with
  the tenant's legacy key -- and completes it: applied; pending again with exponential backoff
  (transport or 5xx-class failures, throttling, an earlier write of the same person still open);
  failed after ``max_attempts`` or on a refusal retrying cannot change.
- Per-person order: an entry waits while an older open entry of the same person and target exists.
- Idempotent replays: newperson answered -1302 (exists) and delperson answered -1303 (gone) count
  as applied.
- Face ids differ per backend: each replayed newperson/addface records which face id the other
  side gave to each image (a "facemap" journal entry, applied, keyed by tenant, side and id), and a
  replayed delface deletes the other side's ids.
- Settled writes are observed: when an entry ends applied or failed (not at each retry), every
  registered `WriteObserver` gets a `SettledWrite` -- both sides' codes, the refusal's message,
  both latencies -- after the journal says so (the dual-write comparison, `shadowing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from proxy.domain.codes import V1Error
from proxy.domain.requests import AddFace, DelFace, DelPerson, NewPerson, Target
from proxy.domain.results import AddFaceResult, NewPersonResult
from proxy.handlers.context import Services
from proxy.handlers.ops import OPS, run_op
from proxy.migration import writes
from proxy.migration.legacy import LegacyClient, LegacyUnreachable
from proxy.migration.metrics import MigrationMetrics
from proxy.migration.routes import Side
from proxy.settings import Outbox as OutboxSettings
from proxy.settings import Settings
from proxy.store.journal import JournalEntry, JournalIntent, JournalKind, Lease
from proxy.v1.auth import LegacyKey

KIND: JournalKind = "outbox"
FACEMAP_OP = "facemap"
RETRYABLE_CODES = frozenset({15, 107, 108, 213})
IDEMPOTENT = {"newperson": -1302, "delperson": -1303}
log = structlog.get_logger("proxy.migration.outbox")


@dataclass(frozen=True)
class ReplayResult:
    """One replay's outcome: the v1 code, and per input image the face id the target gave (or None)."""

    code: int
    face_ids: tuple[str | None, ...] = ()
    message: str = ""
    reached: bool = True  # False: the target was never asked (a vanished blob, no legacy backend or key)

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES


@dataclass(frozen=True)
class SettledWrite:
    """An owed write's final outcome on its target beside the serving side's: codes and words, never an image.

    Only writes the serving side did are owed, so ``served_code`` is 0; ``applied`` also holds for an
    idempotent answer (newperson -1302, delperson -1303: the target already held what was written)."""

    tenant: str  # the appid
    op: str
    served: Side
    served_code: int
    target_code: int
    applied: bool
    message: str  # the target's refusal, empty when applied
    served_ms: float
    target_ms: float  # the last replay's
    attempts: int
    entry_id: int
    request_hash: str  # a digest of the stored payload (image bytes are in it only as their digests)
    faces_added: tuple[int, int] | None = None  # addface applied: images (served side, target) each accepted


WriteObserver = Callable[[SettledWrite], None]


def person_of(request: writes.WriteRequest) -> str:
    return request.person_id


def facemap_key(namespace: str, side: Side, face_id: str) -> str:
    return f"facemap/{namespace}/{side.value}/{face_id}"


def backoff(attempts: int, settings: OutboxSettings) -> float:
    return float(min(settings.retry_max_s, settings.retry_base_s * (2 ** min(attempts, 30))))


async def owe(
    services: Services,
    metrics: MigrationMetrics,
    *,
    target_side: Side,
    namespace: str,
    op: str,
    target: Target,
    request: writes.WriteRequest,
    served_face_ids: tuple[str | None, ...],
    served_ms: float = 0.0,
    now: float | None = None,
) -> int:
    """Record a write the other backend still needs; returns the entry id (durable on return).

    ``served_ms``: how long the serving side took (the dual-write comparison's latency of that side)."""
    owed = writes.encode(target, request, served_face_ids)
    owed.payload["served_ms"] = round(served_ms, 3)
    intent = JournalIntent(
        kind=KIND,
        namespace=namespace,
        op=op,
        person_id=person_of(request),
        payload=owed.payload,
        target=target_side.value,
        blobs=owed.blobs,
    )
    opened = await services.store.journal_open(intent, now=time.time() if now is None else now)
    metrics.outbox_enqueued.labels(target=target_side.value, op=op).inc()
    return opened.entry.entry_id


async def remember_faces(
    services: Services, namespace: str, served: Side, pairs: list[tuple[str, str]], *, now: float
) -> None:
    """Record (served side's face id, other side's face id) pairs, both ways."""
    for served_id, other_id in pairs:
        for side, face_id, counterpart in ((served, served_id, other_id), (served.other, other_id, served_id)):
            intent = JournalIntent(
                kind=KIND,
                namespace=namespace,
                op=FACEMAP_OP,
                person_id=None,
                payload={"face_id": counterpart},
                target=side.other.value,
                dedupe_key=facemap_key(namespace, side, face_id),
            )
            opened = await services.store.journal_open(intent, now=now)
            if opened.created:
                await services.store.journal_complete(opened.entry.entry_id, "applied", now=now)


async def counterpart(services: Services, namespace: str, side: Side, face_id: str) -> str | None:
    """The other backend's id of a face ``side`` knows as ``face_id``, if a replay recorded it."""
    entry = await services.store.journal_find(facemap_key(namespace, side, face_id))
    return None if entry is None else str(entry.payload.get("face_id"))


class Replayer:
    """Drains due outbox entries until stopped; wakes early when a write is owed."""

    def __init__(
        self,
        runtime: Callable[[], tuple[Settings, Services]],
        legacy: LegacyClient,
        metrics: MigrationMetrics,
        *,
        clock: Callable[[], float] = time.time,
        observers: Sequence[WriteObserver] = (),
    ) -> None:
        self._runtime = runtime
        self._legacy = legacy
        self._metrics = metrics
        self._clock = clock
        self._observers = observers  # read at each settled write: the caller may add to it later
        self._wake = asyncio.Event()
        self._owner = f"outbox-{os.getpid()}-{id(self):x}"

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                busy = await self.drain_once()
            except Exception:
                log.exception("outbox.drain_failed")
                busy = False
            if not busy:
                settings, _ = self._runtime()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=settings.migration.outbox.poll_s)

    async def drain_once(self) -> bool:
        """Replay one batch of due entries; True when there was any."""
        settings, services = self._runtime()
        now = self._clock()
        outbox = settings.migration.outbox
        lease = Lease(owner=self._owner, seconds=outbox.lease_s)
        entries = await services.store.journal_due(KIND, now=now, limit=outbox.batch, lease=lease)
        for entry in entries:
            await self._work(entry, settings, services)
        await self.observe_depth(services)
        return bool(entries)

    async def observe_depth(self, services: Services) -> None:
        stats = await services.store.journal_stats(KIND, now=self._clock())
        self._metrics.outbox_depth.set(sum(stats.counts.get(s, 0) for s in ("pending", "unknown")))
        self._metrics.outbox_age.set(stats.oldest_open_age_s or 0.0)

    async def _work(self, entry: JournalEntry, settings: Settings, services: Services) -> None:
        if entry.op == FACEMAP_OP:  # never owed: applied at birth
            await self._complete(services, entry, "applied", None, None)
            return
        outbox = settings.migration.outbox
        now = self._clock()
        if await self._waits_for_older(services, entry):
            await self._complete(services, entry, "pending", "an older write of this person is still open", now + 0.05)
            return
        started = time.perf_counter()
        try:
            result = await self._replay(entry, settings, services)
        except LookupError as exc:  # an image blob vanished: nothing can replay it
            result = ReplayResult(code=-1300, message=str(exc), reached=False)
        elapsed_ms = (time.perf_counter() - started) * 1000
        side = Side(entry.target)
        if result.code == 0 or IDEMPOTENT.get(entry.op) == result.code:
            await self._complete(services, entry, "applied", None, None)
            self._metrics.outbox_done.labels(target=side.value, result="applied").inc()
            log.info("outbox.applied", entry=entry.entry_id, op=entry.op, target=side.value, code=result.code)
            self._settled(entry, result, elapsed_ms, applied=True)
            return
        if result.retryable and entry.attempts + 1 < outbox.max_attempts:
            retry_at = now + backoff(entry.attempts, outbox)
            await self._complete(services, entry, "pending", f"v1 code {result.code}: {result.message}", retry_at)
            self._metrics.outbox_done.labels(target=side.value, result="retry").inc()
            return
        await self._complete(services, entry, "failed", f"v1 code {result.code}: {result.message}", None)
        self._metrics.outbox_done.labels(target=side.value, result="failed").inc()
        log.warning("outbox.failed", entry=entry.entry_id, op=entry.op, target=side.value, code=result.code)
        self._settled(entry, result, elapsed_ms, applied=False)

    def _settled(self, entry: JournalEntry, result: ReplayResult, elapsed_ms: float, *, applied: bool) -> None:
        """Tell every observer how the write ended on its target (not when the target was never asked)."""
        if not self._observers or not result.reached:
            return
        settled = SettledWrite(
            tenant=str(entry.payload.get("appid", "")),
            op=entry.op,
            served=Side(entry.target).other,
            served_code=0,
            target_code=result.code,
            applied=applied,
            message="" if applied else result.message,
            served_ms=float(entry.payload.get("served_ms", 0.0)),
            target_ms=elapsed_ms,
            attempts=entry.attempts + 1,
            entry_id=entry.entry_id,
            request_hash=payload_digest(entry.op, entry.payload),
            faces_added=faces_added(entry, result) if applied and entry.op == "addface" else None,
        )
        for observer in list(self._observers):
            try:
                observer(settled)
            except Exception:
                log.exception("outbox.observer_failed", entry=entry.entry_id, op=entry.op)

    async def _complete(
        self, services: Services, entry: JournalEntry, state: Any, error: str | None, retry_at: float | None
    ) -> None:
        await services.store.journal_complete(
            entry.entry_id, state, now=self._clock(), error=error, retry_at=retry_at, owner=self._owner
        )

    async def _waits_for_older(self, services: Services, entry: JournalEntry) -> bool:
        if entry.person_id is None:
            return False
        open_entries = await services.store.journal_for_subject(entry.namespace, entry.person_id)
        older = [e for e in open_entries if e.kind == KIND and e.target == entry.target and e.entry_id < entry.entry_id]
        return bool(older)

    async def _replay(self, entry: JournalEntry, settings: Settings, services: Services) -> ReplayResult:
        blobs: dict[str, bytes] = {}
        for digest in writes.blob_digests(entry.payload):
            data = await services.store.journal_blob(digest)
            if data is not None:
                blobs[digest] = data
        target, request = writes.decode(entry.op, entry.payload, blobs)
        side = Side(entry.target)
        served = side.other
        if isinstance(request, DelFace):
            mapped = [await counterpart(services, entry.namespace, served, f) for f in request.face_ids]
            request = DelFace(request.person_id, tuple(m for m in mapped if m is not None) or request.face_ids)
        if side is Side.V3:
            result = await self._replay_v3(entry.op, target, request, services)
        else:
            result = await self._replay_v1(entry.op, target, request, settings)
        served_ids = [f if f is None else str(f) for f in entry.payload.get("served_face_ids", ())]
        pairs = [(s, o) for s, o in zip(served_ids, result.face_ids, strict=False) if s is not None and o is not None]
        if pairs:
            await remember_faces(services, entry.namespace, served, pairs, now=self._clock())
        return result

    async def _replay_v3(
        self, op: str, target: Target, request: writes.WriteRequest, services: Services
    ) -> ReplayResult:
        scope = services.scope(target)
        try:
            result = await run_op(OPS[op], request, services, scope)
        except V1Error as exc:
            code = 213 if exc.http_status >= 500 else exc.code
            if IDEMPOTENT.get(op) == code:  # v3 already holds it (a replay cut short by a crash): known all the same
                await after_v3_write(services, scope.store_key, request, now=self._clock())
            return ReplayResult(code=code, message=exc.message)
        await after_v3_write(services, scope.store_key, request, now=self._clock())
        if isinstance(result, NewPersonResult):
            return ReplayResult(0, (result.face_id,))
        if isinstance(result, AddFaceResult):
            return ReplayResult(0, per_image(result.ret_codes, result.face_ids))
        return ReplayResult(0)

    async def _replay_v1(
        self, op: str, target: Target, request: writes.WriteRequest, settings: Settings
    ) -> ReplayResult:
        backend = settings.migration.legacy
        if backend is None:
            return ReplayResult(213, message="no legacy backend configured", reached=False)
        key = legacy_key(settings, target.appid)
        if key is None:
            return ReplayResult(10, message="the tenant has no legacy key to sign with", reached=False)
        body = writes.v1_body(key, target, request)
        try:
            reply = await self._legacy.post(backend, f"/face/{op}", body.body, body.headers)
        except LegacyUnreachable as exc:
            return ReplayResult(213, message=str(exc))
        if reply.status >= 500:
            return ReplayResult(213, message=f"legacy HTTP {reply.status}")
        data = reply_data(reply.body)
        if isinstance(request, NewPerson):
            return ReplayResult(reply.code, (str(data.get("face_id")),) if reply.code == 0 else ())
        if isinstance(request, AddFace) and reply.code == 0:
            codes = tuple(int(c) for c in data.get("ret_codes", ()))
            return ReplayResult(0, per_image(codes, tuple(str(f) for f in data.get("face_ids", ()))))
        return ReplayResult(reply.code, message=str(data.get("message", "")))


def faces_added(entry: JournalEntry, result: ReplayResult) -> tuple[int, int]:
    """How many of an addface's images the serving side and the target each accepted."""
    served = sum(1 for f in entry.payload.get("served_face_ids", ()) if f is not None)
    return served, sum(1 for f in result.face_ids if f is not None)


def payload_digest(op: str, payload: Mapping[str, Any]) -> str:
    """What identifies a stored write in the comparison ledger: SHA-256 of its op and payload (images by digest)."""
    fields = {k: v for k, v in payload.items() if k != "served_ms"}
    text = json.dumps([op, fields], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def per_image(ret_codes: tuple[int, ...], face_ids: tuple[str, ...]) -> tuple[str | None, ...]:
    """Face ids spread over input images: the successes (ret code 0) take the ids in order."""
    ids = iter(face_ids)
    return tuple(next(ids, None) if code == 0 else None for code in ret_codes)


def reply_data(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    data = parsed.get("data") if isinstance(parsed, dict) else None
    out = dict(data) if isinstance(data, dict) else {}
    if isinstance(parsed, dict) and "message" in parsed:
        out.setdefault("message", parsed["message"])
    return out


def legacy_key(settings: Settings, appid: str) -> LegacyKey | None:
    for tenant in settings.tenants:
        if tenant.appid == appid and tenant.legacy_keys:
            k = tenant.legacy_keys[0]
            return LegacyKey(appid, k.secret_id, k.secret_key.get_secret_value())
    return None


async def after_v3_write(services: Services, namespace: str, request: object, *, now: float) -> None:
    """What v3 now holds, for data-aware reads: a created person and its groups known, a deleted one not."""
    if isinstance(request, NewPerson):
        await services.store.mark_known_in_v3(namespace, request.person_id, "proxy", now=now)
        for group_id in request.group_ids:
            await services.store.mark_known_in_v3(namespace, group_key(group_id), "proxy", now=now)
    elif isinstance(request, DelPerson):
        await services.store.forget_known_in_v3(namespace, request.person_id)


def group_key(group_id: str) -> str:
    """Where a group's "known in v3" mark lives: v1 ids never contain "/", so no person id can collide."""
    return f"group/{group_id}"
