"""migration.outbox.* and migration.legacy.connect_timeout, each changing what a running proxy does.

The tenant is on v3 with v1 kept fed: every write it makes is owed to the legacy v1 service through
the outbox. The outbox's own bookkeeping (attempts, leases) is read from the proxy's store."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from qcloud_image import CIBuffer

from proxy.emulator.synthetic import subject_photo
from tests.migration.staged import App, StagedWorld, staged_world
from tests.v3.test_upstream_settings import blackhole

APP = App("1250000021", "AKIDoutboxSettings", "key-outbox-settings")
DOWN = "http://127.0.0.1:9"  # nothing listens: a replay to v1 fails at once, and is retried


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StagedWorld]:
    yield from staged_world(tmp_path_factory.mktemp("outbox-settings"), (APP,))


def journal(world: StagedWorld, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    path = world.config["store"]["url"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        return db.execute(sql, params).fetchall()


def newest_entry(world: StagedWorld) -> int:
    return int(journal(world, "SELECT coalesce(max(entry_id), 0) FROM journal")[0][0])


class Configured:
    """Reload with these outbox settings (and legacy endpoint); put the staged defaults back after."""

    def __init__(self, world: StagedWorld, outbox: dict[str, float], *, legacy: str | None = None) -> None:
        self.world, self.outbox, self.legacy = world, outbox, legacy

    def __enter__(self) -> StagedWorld:
        migration = self.world.config["migration"]
        self.saved = (dict(migration["outbox"]), dict(migration["legacy"]))
        migration["outbox"].update(self.outbox)
        if self.legacy is not None:
            migration["legacy"]["endpoint"] = self.legacy
        self.world.reload()
        return self.world

    def __exit__(self, *exc: object) -> None:
        migration = self.world.config["migration"]
        migration["outbox"], migration["legacy"] = self.saved
        self.world.reload()


def attempts_in(world: StagedWorld, person: str, outbox: dict[str, float], *, watch_s: float = 1.2) -> int:
    """How often the outbox tried to replay one newperson to a v1 that is down, within `watch_s`."""
    world.route(APP, "v3")
    with Configured(world, outbox, legacy=DOWN):
        before = newest_entry(world)
        reply = APP.client().face_newperson(person, ["g"], CIBuffer(subject_photo(3, 0)))
        assert reply["code"] == 0, reply  # served by v3; owed to v1
        time.sleep(watch_s)
        (attempts,) = journal(
            world, "SELECT attempts FROM journal WHERE kind = 'outbox' AND op = 'newperson' AND entry_id > ?", before
        )
    # v1 is back (the staged endpoint): the owed write is made due now and replayed there
    journal(world, "UPDATE journal SET next_attempt_at = 0 WHERE kind = 'outbox' AND entry_id > ?", before)
    world.drain()
    return int(attempts[0])


def test_outbox_retry_base_s_spaces_the_first_retries(world: StagedWorld) -> None:
    assert attempts_in(world, "rb-slow", {"retry_base_s": 30, "retry_max_s": 60, "poll_s": 0.02}) == 1
    assert attempts_in(world, "rb-fast", {"retry_base_s": 0.05, "retry_max_s": 60, "poll_s": 0.02}) >= 3


def test_outbox_retry_max_s_caps_the_backoff(world: StagedWorld) -> None:
    assert attempts_in(world, "rm-uncapped", {"retry_base_s": 30, "retry_max_s": 60, "poll_s": 0.02}) == 1
    assert attempts_in(world, "rm-capped", {"retry_base_s": 30, "retry_max_s": 0.05, "poll_s": 0.02}) >= 5


def test_outbox_poll_s_is_how_often_an_idle_replayer_looks_for_due_entries(world: StagedWorld) -> None:
    """Retries are due every 0.1 s; a replayer polling every 0.5 s finds them at most three times in 1.2 s."""
    assert attempts_in(world, "poll-slow", {"retry_base_s": 0.1, "retry_max_s": 0.1, "poll_s": 0.5}) <= 3
    assert attempts_in(world, "poll-fast", {"retry_base_s": 0.1, "retry_max_s": 0.1, "poll_s": 0.02}) >= 6


def test_legacy_connect_timeout_cuts_a_handshake_that_never_completes(world: StagedWorld) -> None:
    world.route(APP, "v1")
    with blackhole() as origin:
        for connect_timeout, slow in ((0.3, False), (1.5, True)):
            world.config["migration"]["legacy"]["connect_timeout"] = connect_timeout
            with Configured(world, {}, legacy=origin):
                started = time.monotonic()
                reply = APP.client().face_getinfo("anyone")
                elapsed = time.monotonic() - started
            assert (reply["code"], reply["httpcode"]) == (213, 502)
            assert (elapsed >= 1.5) is slow and elapsed < 6.0, (connect_timeout, elapsed)
    del world.config["migration"]["legacy"]["connect_timeout"]
    world.reload()
    assert APP.client().face_getinfo("anyone")["code"] == -1303


def test_outbox_batch_is_how_many_due_entries_a_replayer_takes_at_once(world: StagedWorld) -> None:
    """Four writes owed while v1 was down come due at once (the test moves their retry time to now, as if
    it had passed); v1 is back but answers after 1 s. The replayer leases one batch: all four (batch 50) or
    one (batch 1), leaving the rest for its next turn or for another replayer."""
    world.route(APP, "v3")
    for batch, leased in ((50, 4), (1, 1)):
        with Configured(world, {"batch": batch, "retry_base_s": 30, "retry_max_s": 60, "poll_s": 0.02}, legacy=DOWN):
            before = newest_entry(world)
            client = APP.client()
            for i in range(4):
                reply = client.face_newperson(f"batch{batch}-{i}", ["g"], CIBuffer(subject_photo(4, i)))
                assert reply["code"] == 0, reply
            owed = f"FROM journal WHERE kind = 'outbox' AND op = 'newperson' AND entry_id > {before}"
            tried = f"SELECT count(*) {owed} AND attempts = 1 AND state = 'pending'"
            deadline = time.monotonic() + 10
            while journal(world, tried)[0][0] < 4:  # each tried once at v1 (down): next try in 30 s
                assert time.monotonic() < deadline, journal(world, f"SELECT * {owed}")
                time.sleep(0.02)
            world.legacy.legacy.latency_s = 1.0
            world.config["migration"]["legacy"]["endpoint"] = world.legacy.url
            world.reload()  # v1 is back, slow
            try:
                journal(world, f"UPDATE journal SET next_attempt_at = 0 WHERE entry_id IN (SELECT entry_id {owed})")  # noqa: S608
                held = f"SELECT count(*) {owed} AND lease_until > ?"
                deadline = time.monotonic() + 10
                while journal(world, held, time.time())[0][0] == 0:
                    assert time.monotonic() < deadline, "the due writes were never taken"
                    time.sleep(0.02)
                time.sleep(0.2)  # the first of the batch replays for 1 s: the batch is held meanwhile
                assert journal(world, held, time.time())[0][0] == leased, batch
            finally:
                world.legacy.legacy.latency_s = 0.0
            world.drain()
