"""Settling write entries whose outcome is unknown: read the person from v3, bring the store to it.

One person at a time (under the person's write lock), with every open entry about that person
leased to us. v3 is the authority:

- v3 has no such person: the store forgets the person and their faces; a delperson entry was
  applied, any other failed.
- v3 has the person: the store's faces become exactly v3's FaceIds (a face v3 holds but the store
  did not gets a record with zero attributes and the write's face tag; a face v3 no longer holds
  is deleted); a newperson / setinfo entry whose v3 name is what v3 holds was applied and its v1
  name and tag are written, otherwise it failed; a delperson entry failed; addface / delface
  entries are applied (their faces are whatever v3 holds).

Run by the next request touching the person (`settle_due`) and by the background sweeper
(`sweep_once`, started with the app), only once every open entry of the person is due: v3 is read
once for all of them, and an entry still inside `settle_after_s` may be a call v3 has yet to apply
(settled now, it would be judged failed and the person forgotten, then v3 would apply it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog

from proxy.domain.faces import NO_ATTRIBUTES
from proxy.handlers.context import Services
from proxy.handlers.journal import OWNER, JournalPolicy
from proxy.store.base import FaceRecord, PersonRecord
from proxy.store.journal import JournalEntry, JournalState, Lease
from proxy.translate import v3api
from proxy.translate.fields import face_ids
from proxy.translate.person import person_params
from proxy.v3.client import V3Reply
from proxy.v3.errors import V3Error

log = structlog.get_logger(__name__)

PERSON_MISSING = frozenset({"InvalidParameterValue.PersonIdNotExist", "ResourceNotFound.PersonIdNotExist"})
SWEEP_BATCH = 100


@dataclass(frozen=True, slots=True)
class Settled:
    """What one settle did to the store, for logs and tests."""

    namespace: str
    person_id: str
    in_v3: bool
    faces_added: int
    faces_removed: int


async def settle_person(
    services: Services, namespace: str, person_id: str, entries: Sequence[JournalEntry]
) -> Settled | None:
    """Settle the (leased) open entries of one person; None when v3 could not be read (retry later)."""
    v3_person = str(entries[-1].payload["v3_person"])
    try:
        base: V3Reply | None = await services.v3.call(v3api.GET_PERSON_BASE_INFO, person_params(v3_person))
    except V3Error as exc:
        if exc.code not in PERSON_MISSING:
            log.info("journal_settle_deferred", v3_code=exc.code)
            return None
        base = None
    store = services.store
    now = time.time()
    if base is None:
        await store.delete_person(namespace, person_id)
        await store.forget_known_in_v3(namespace, person_id)
        for entry in entries:
            state: JournalState = "applied" if entry.op == "delperson" else "failed"
            await store.journal_complete(entry.entry_id, state, now=now, error="v3 has no such person", owner=OWNER)
        return Settled(namespace, person_id, False, 0, 0)

    v3_name = str(base.data.get("PersonName") or "")
    record = await store.get_person(namespace, person_id)
    states: dict[int, JournalState] = {}
    face_tag: str | None = None
    for entry in entries:  # oldest first: the latest applied name and tag win
        payload = entry.payload
        if entry.op in ("newperson", "setinfo"):
            if payload.get("v3_name") == v3_name:
                states[entry.entry_id] = "applied"
                if entry.op == "newperson" or record is None:
                    record = PersonRecord(namespace, person_id, payload.get("name"), payload.get("tag"))
                else:
                    tag = payload.get("tag")
                    record = PersonRecord(namespace, person_id, payload.get("name"), record.tag if tag is None else tag)
            else:
                states[entry.entry_id] = "failed"
        elif entry.op == "delperson":
            states[entry.entry_id] = "failed"
        else:
            states[entry.entry_id] = "applied"
        if entry.op in ("newperson", "addface"):
            face_tag = payload.get("tag")
    await store.put_person(record if record is not None else PersonRecord(namespace, person_id, None, None))

    held = set(face_ids(base))
    stored = {r.face_id for r in await store.get_person_faces(namespace, person_id)}
    missing = sorted(held - stored)
    gone = sorted(stored - held)
    if gone:
        await store.delete_faces(namespace, gone)
    if missing:
        await store.put_faces([FaceRecord(namespace, f, person_id, face_tag, NO_ATTRIBUTES) for f in missing])
    await store.mark_known_in_v3(namespace, person_id, "confirmed", now=now)
    for entry in entries:
        await store.journal_complete(
            entry.entry_id, states[entry.entry_id], now=now, error=entry.last_error, owner=OWNER
        )
    log.info(
        "journal_settled", person_id=person_id, entries=len(entries), faces_added=len(missing), faces_removed=len(gone)
    )
    return Settled(namespace, person_id, True, len(missing), len(gone))


async def _claim_all(
    services: Services, entries: Sequence[JournalEntry], lease: Lease, now: float
) -> list[JournalEntry] | None:
    """Lease every one of a person's open entries, or None (and nothing kept) when another worker holds one."""
    claimed: list[JournalEntry] = []
    for entry in entries:
        got = await services.store.journal_claim(entry.entry_id, now=now, lease=lease)
        if got is None:
            await _release(services, claimed, now)
            return None
        claimed.append(got)
    return claimed


async def _release(services: Services, entries: Sequence[JournalEntry], now: float, delay_s: float = 0.0) -> None:
    for entry in entries:
        await services.store.journal_complete(
            entry.entry_id, entry.state, now=now, error=entry.last_error, retry_at=now + delay_s, owner=OWNER
        )


async def settle_due(services: Services, namespace: str, person_id: str, *, force: bool = False) -> Settled | None:
    """On a request touching a person: settle their open entries when one is due (or `force`) and none is held.

    The caller holds the person's write lock.
    """
    entries = await services.store.journal_for_subject(namespace, person_id, kind="write")
    if not entries:
        return None
    now = time.time()
    if not force and not all(e.next_attempt_at <= now and e.lease_until <= now for e in entries):
        return None  # one of them may still land in v3 (or a request holds it): settling now would misjudge it
    claimed = await _claim_all(services, entries, Lease(OWNER, services.journal.lease_s), now)
    if claimed is None:
        return None
    settled = await settle_person(services, namespace, person_id, claimed)
    if settled is None:
        await _release(services, claimed, now, _backoff(services.journal, claimed))
    return settled


def _backoff(policy: JournalPolicy, entries: Sequence[JournalEntry]) -> float:
    """How long until a settle that could not read v3 is tried again: doubling per attempt, capped at retry_max_s."""
    attempts = max(e.attempts for e in entries)
    return float(min(policy.retry_max_s, max(1.0, policy.sweep_interval_s) * 2 ** min(attempts, 8)))


async def sweep_once(services: Services) -> int:
    """Take due write entries, settle their persons; the number of persons settled. Also prunes old entries."""
    policy = services.journal
    now = time.time()
    lease = Lease(OWNER, policy.lease_s)
    taken = await services.store.journal_due("write", now=now, limit=SWEEP_BATCH, lease=lease)
    persons: dict[tuple[str, str], list[JournalEntry]] = {}
    for entry in taken:
        persons.setdefault((entry.namespace, entry.person_id or ""), []).append(entry)
    settled = 0
    for (namespace, person_id), group in persons.items():
        async with services.locks.hold(str(group[0].payload["writer_key"])):
            mine = {e.entry_id for e in group}
            subject = await services.store.journal_for_subject(namespace, person_id, kind="write")
            others = [e for e in subject if e.entry_id not in mine]
            waiting = [e.next_attempt_at for e in others if e.next_attempt_at > now]
            if waiting:  # a write inside its settle delay may still land in v3: settle the person once it is due
                await _release(services, group, now, max(waiting) - now)
                continue
            claimed = await _claim_all(services, others, lease, now)
            if claimed is None:  # a live request works this person: try again next sweep
                await _release(services, group, now, policy.sweep_interval_s)
                continue
            entries = sorted([*group, *claimed], key=lambda e: e.entry_id)
            if await settle_person(services, namespace, person_id, entries) is None:
                await _release(services, entries, now, _backoff(policy, entries))
            else:
                settled += 1
    await services.store.journal_prune("write", before=now - policy.keep_done_s)
    return settled


async def run_sweeper(current: Callable[[], Services]) -> None:
    """Sweep forever at the current configuration's interval (0: idle until a reload sets one)."""
    while True:
        services = current()
        interval = services.journal.sweep_interval_s
        if not interval:
            await asyncio.sleep(1.0)
            continue
        try:
            await sweep_once(services)
        except Exception as exc:  # the store or v3 away: the next sweep tries again
            log.warning("journal_sweep_failed", error=type(exc).__name__, detail=str(exc)[:200])
        await asyncio.sleep(interval)
