"""The write journal on every backend: open/complete, dedupe, leases, due order, blobs, stats, known-in-v3."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from proxy.store import FaceStore, open_store
from proxy.store.journal import JournalIntent, JournalStats, Lease
from tests.store.conftest import Backend

T0 = 1_000_000.0
REQUEST = Lease("request-1", 30.0)
SWEEPER = Lease("sweeper", 60.0)


def intent(person_id: str = "p", **changes: object) -> JournalIntent:
    values: dict[str, object] = {
        "kind": "write",
        "namespace": "tenant a",
        "op": "newperson",
        "person_id": person_id,
        "face_ids": ("f1", "f2"),
        "payload": {"name": "名字", "tag": None, "groups": ["g1"]},
    }
    values.update(changes)
    return JournalIntent(**values)  # type: ignore[arg-type]


async def test_open_records_everything_and_get_reads_it_back(store: FaceStore) -> None:
    awkward = {"name": "nul\x00 lone \ud800 😀", "nested": {"n": 1.5, "list": [True, None]}}
    opened = await store.journal_open(
        intent("p\x00q", payload=awkward, target="v1", dedupe_key="k1"), now=T0, lease=REQUEST
    )
    assert opened.created
    entry = opened.entry
    assert (entry.kind, entry.namespace, entry.op, entry.person_id) == ("write", "tenant a", "newperson", "p\x00q")
    assert entry.face_ids == ("f1", "f2")
    assert entry.payload == awkward
    assert (entry.target, entry.state, entry.attempts) == ("v1", "pending", 0)
    assert (entry.next_attempt_at, entry.lease_until, entry.lease_owner) == (T0, T0 + 30.0, "request-1")
    assert (entry.last_error, entry.dedupe_key, entry.blob_digests) == (None, "k1", ())
    assert (entry.created_at, entry.updated_at) == (T0, T0)
    assert entry.is_open
    assert await store.journal_get(entry.entry_id) == entry
    assert await store.journal_find("k1") == entry
    assert await store.journal_get(entry.entry_id + 1000) is None
    assert await store.journal_find("other") is None


async def test_open_with_an_existing_dedupe_key_returns_the_existing_entry(store: FaceStore) -> None:
    first = await store.journal_open(intent(dedupe_key="same request"), now=T0)
    await store.journal_complete(first.entry.entry_id, "applied", now=T0 + 1)
    again = await store.journal_open(intent(op="changed", dedupe_key="same request"), now=T0 + 5)
    assert not again.created
    assert again.entry.entry_id == first.entry.entry_id
    assert (again.entry.op, again.entry.state) == ("newperson", "applied")
    other = await store.journal_open(intent(dedupe_key="another"), now=T0)
    no_key = [await store.journal_open(intent(), now=T0) for _ in range(2)]
    ids = {first.entry.entry_id, other.entry.entry_id, *(o.entry.entry_id for o in no_key)}
    assert len(ids) == 4


async def test_concurrent_opens_of_one_dedupe_key_make_one_entry(backend: Backend) -> None:
    stores = [await open_store(backend.url) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(s.journal_open(intent(dedupe_key="race"), now=T0) for s in stores for _ in range(5))
        )
        assert len({r.entry.entry_id for r in results}) == 1
        assert sum(r.created for r in results) == 1
    finally:
        for s in stores:
            await s.close()


async def test_complete_sets_state_counts_attempts_and_ends_the_lease(store: FaceStore) -> None:
    entry = (await store.journal_open(intent(), now=T0, lease=REQUEST)).entry
    assert await store.journal_complete(entry.entry_id, "unknown", now=T0 + 2, error="ReadTimeout", retry_at=T0 + 10)
    done = await store.journal_get(entry.entry_id)
    assert done is not None
    assert (done.state, done.attempts, done.last_error, done.next_attempt_at) == ("unknown", 1, "ReadTimeout", T0 + 10)
    assert (done.lease_until, done.lease_owner, done.updated_at) == (0.0, None, T0 + 2)
    assert await store.journal_complete(entry.entry_id, "applied", now=T0 + 3, payload={"progress": 3})
    done = await store.journal_get(entry.entry_id)
    assert done is not None
    assert (done.state, done.attempts, done.last_error, done.payload) == ("applied", 2, None, {"progress": 3})
    assert done.next_attempt_at == T0 + 10  # unchanged without retry_at
    assert not done.is_open
    assert not await store.journal_complete(entry.entry_id + 1000, "applied", now=T0)


async def test_complete_by_an_owner_who_lost_the_lease_is_refused(store: FaceStore) -> None:
    entry = (await store.journal_open(intent(), now=T0, lease=REQUEST)).entry
    # the request's lease runs out (it crashed, say); the sweeper takes the entry
    taken = await store.journal_due("write", now=T0 + 31, limit=10, lease=SWEEPER)
    assert [e.entry_id for e in taken] == [entry.entry_id]
    assert not await store.journal_complete(entry.entry_id, "applied", now=T0 + 32, owner="request-1")
    assert await store.journal_complete(entry.entry_id, "failed", now=T0 + 33, owner="sweeper", error="gone")
    final = await store.journal_get(entry.entry_id)
    assert final is not None and (final.state, final.last_error, final.attempts) == ("failed", "gone", 1)


async def test_due_takes_open_unleased_due_entries_of_one_kind_oldest_first(store: FaceStore) -> None:
    late = (await store.journal_open(intent("late", kind="outbox"), now=T0 + 5)).entry
    early = (await store.journal_open(intent("early", kind="outbox"), now=T0 + 1)).entry
    leased = (await store.journal_open(intent("leased", kind="outbox"), now=T0, lease=REQUEST)).entry
    future = (await store.journal_open(intent("future", kind="outbox"), now=T0 + 100)).entry
    done = (await store.journal_open(intent("done", kind="outbox"), now=T0)).entry
    await store.journal_complete(done.entry_id, "applied", now=T0)
    await store.journal_open(intent("other kind", kind="backfill"), now=T0)

    taken = await store.journal_due("outbox", now=T0 + 10, limit=10, lease=SWEEPER)
    assert [e.person_id for e in taken] == ["early", "late"]
    assert all((e.lease_owner, e.lease_until) == ("sweeper", T0 + 70) for e in taken)
    # taken entries are leased: nobody gets them again until the lease runs out
    assert await store.journal_due("outbox", now=T0 + 20, limit=10, lease=Lease("other", 5)) == []
    later = await store.journal_due("outbox", now=T0 + 100, limit=10, lease=Lease("other", 5))
    assert [e.person_id for e in later] == ["leased", "early", "late", "future"]
    assert [e.entry_id for e in later] == [leased.entry_id, early.entry_id, late.entry_id, future.entry_id]
    limited = await store.journal_due("outbox", now=T0 + 200, limit=2, lease=SWEEPER)
    assert [e.person_id for e in limited] == ["leased", "early"]


async def test_retry_backoff_makes_an_entry_due_later(store: FaceStore) -> None:
    entry = (await store.journal_open(intent(kind="outbox", target="v1"), now=T0)).entry
    (taken,) = await store.journal_due("outbox", now=T0, limit=1, lease=SWEEPER)
    assert await store.journal_complete(
        taken.entry_id, "pending", now=T0 + 1, error="503", retry_at=T0 + 8, owner="sweeper"
    )
    assert await store.journal_due("outbox", now=T0 + 7.9, limit=5, lease=SWEEPER) == []
    (again,) = await store.journal_due("outbox", now=T0 + 8, limit=5, lease=SWEEPER)
    assert (again.entry_id, again.attempts, again.last_error) == (entry.entry_id, 1, "503")


async def test_concurrent_reconcilers_never_take_the_same_entry(backend: Backend) -> None:
    """Several replicas' reconcilers (one store each, as separate processes would have) share the work."""
    stores = [await open_store(backend.url) for _ in range(4)]
    try:
        for n in range(60):
            await stores[0].journal_open(intent(f"p{n}", kind="outbox"), now=T0)

        async def reconciler(i: int) -> list[int]:
            got: list[int] = []
            while batch := await stores[i].journal_due("outbox", now=T0 + 1, limit=7, lease=Lease(f"r{i}", 60)):
                got.extend(e.entry_id for e in batch)
                await asyncio.sleep(0)
            return got

        taken = await asyncio.gather(*(reconciler(i) for i in range(4)))
        everything = [entry_id for batch in taken for entry_id in batch]
        assert len(everything) == 60
        assert len(set(everything)) == 60
    finally:
        for s in stores:
            await s.close()


async def test_claim_leases_one_open_entry_unless_someone_holds_it(store: FaceStore) -> None:
    entry = (await store.journal_open(intent(), now=T0, lease=REQUEST)).entry
    assert await store.journal_claim(entry.entry_id, now=T0 + 1, lease=SWEEPER) is None
    renewed = await store.journal_claim(entry.entry_id, now=T0 + 1, lease=REQUEST)  # the holder renews
    assert renewed is not None and renewed.lease_until == T0 + 31
    claimed = await store.journal_claim(entry.entry_id, now=T0 + 40, lease=SWEEPER)
    assert claimed is not None and (claimed.lease_owner, claimed.lease_until) == ("sweeper", T0 + 100)
    await store.journal_complete(entry.entry_id, "applied", now=T0 + 41)
    assert await store.journal_claim(entry.entry_id, now=T0 + 500, lease=SWEEPER) is None  # final: nothing to do


async def test_for_subject_lists_a_persons_entries(store: FaceStore) -> None:
    a1 = (await store.journal_open(intent("a"), now=T0)).entry
    a2 = (await store.journal_open(intent("a", op="addface"), now=T0)).entry
    await store.journal_open(intent("b"), now=T0)
    await store.journal_open(intent("a", namespace="other tenant"), now=T0)
    await store.journal_complete(a1.entry_id, "applied", now=T0)
    assert [e.entry_id for e in await store.journal_for_subject("tenant a", "a")] == [a2.entry_id]
    everything = await store.journal_for_subject("tenant a", "a", open_only=False)
    assert [e.entry_id for e in everything] == [a1.entry_id, a2.entry_id]
    assert await store.journal_for_subject("tenant a", "nobody") == []
    outbox = (await store.journal_open(intent("a", kind="outbox"), now=T0)).entry
    assert [e.entry_id for e in await store.journal_for_subject("tenant a", "a", kind="outbox")] == [outbox.entry_id]
    assert [e.entry_id for e in await store.journal_for_subject("tenant a", "a", kind="write")] == [a2.entry_id]


async def test_stats_count_by_state_and_age_the_oldest_open_entry(store: FaceStore) -> None:
    assert await store.journal_stats("outbox", now=T0) == JournalStats(
        "outbox", {"pending": 0, "applied": 0, "failed": 0, "unknown": 0}, None
    )
    first = (await store.journal_open(intent(kind="outbox"), now=T0)).entry
    await store.journal_open(intent(kind="outbox"), now=T0 + 10)
    third = (await store.journal_open(intent(kind="outbox"), now=T0 + 20)).entry
    await store.journal_open(intent(kind="write"), now=T0 - 100)
    await store.journal_complete(first.entry_id, "applied", now=T0 + 21)
    await store.journal_complete(third.entry_id, "unknown", now=T0 + 21)
    stats = await store.journal_stats("outbox", now=T0 + 30)
    assert stats.counts == {"pending": 1, "applied": 1, "failed": 0, "unknown": 1}
    assert stats.oldest_open_age_s == 20.0


async def test_prune_deletes_old_final_entries_only(store: FaceStore) -> None:
    old_done = (await store.journal_open(intent(), now=T0)).entry
    new_done = (await store.journal_open(intent(), now=T0)).entry
    old_open = (await store.journal_open(intent(), now=T0)).entry
    await store.journal_complete(old_done.entry_id, "applied", now=T0 + 1)
    await store.journal_complete(new_done.entry_id, "failed", now=T0 + 100)
    assert await store.journal_prune("outbox", before=T0 + 50) == 0
    assert await store.journal_prune("write", before=T0 + 50) == 1
    assert await store.journal_get(old_done.entry_id) is None
    assert await store.journal_get(new_done.entry_id) is not None
    assert await store.journal_get(old_open.entry_id) is not None


def _blob(data: bytes) -> dict[str, bytes]:
    return {hashlib.sha256(data).hexdigest(): data}


async def test_blobs_are_kept_by_hash_until_no_open_entry_names_them(store: FaceStore) -> None:
    image, other = b"\xff\xd8 jpeg bytes \x00" * 100, b"another image"
    (digest,) = _blob(image)
    (other_digest,) = _blob(other)
    first = (await store.journal_open(intent(kind="outbox", blobs=_blob(image)), now=T0)).entry
    second = (await store.journal_open(intent(kind="outbox", blobs={**_blob(image), **_blob(other)}), now=T0)).entry
    assert first.blob_digests == (digest,)
    assert second.blob_digests == tuple(sorted((digest, other_digest)))
    assert first.payload == intent().payload  # images never in the payload
    assert await store.journal_blob(digest) == image
    await store.journal_complete(first.entry_id, "applied", now=T0)
    assert await store.journal_blob(digest) == image  # the second entry still needs it
    await store.journal_complete(second.entry_id, "pending", now=T0, retry_at=T0 + 5)
    assert await store.journal_blob(other_digest) == other  # still open
    await store.journal_complete(second.entry_id, "failed", now=T0)
    assert await store.journal_blob(digest) is None
    assert await store.journal_blob(other_digest) is None


async def test_a_blob_not_named_by_its_hash_is_refused(store: FaceStore) -> None:
    with pytest.raises(ValueError, match="not named by its sha256"):
        await store.journal_open(intent(blobs={"0" * 64: b"data"}), now=T0)
    assert (await store.journal_stats("write", now=T0)).counts["pending"] == 0


async def test_known_in_v3(store: FaceStore) -> None:
    assert not await store.is_known_in_v3("tenant a", "p")
    await store.mark_known_in_v3("tenant a", "p", "proxy", now=T0)
    await store.mark_known_in_v3("tenant a", "p", "confirmed", now=T0 + 1)  # idempotent
    assert await store.is_known_in_v3("tenant a", "p")
    assert not await store.is_known_in_v3("tenant b", "p")
    assert not await store.is_known_in_v3("tenant a", "P")
    await store.forget_known_in_v3("tenant a", "p")
    await store.forget_known_in_v3("tenant a", "p")
    assert not await store.is_known_in_v3("tenant a", "p")
