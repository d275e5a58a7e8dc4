"""journal.keep_done_s through a running proxy: settled write-journal entries are pruned this long after."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.test_settings_take_effect import b64, post
from tests.v1.stack import running


def journal_rows(store: Path) -> int:
    with sqlite3.connect(store) as db:
        (count,) = db.execute("SELECT count(*) FROM journal WHERE kind = 'write'").fetchone()
    return int(count)


async def test_journal_keep_done_s_is_how_long_settled_entries_are_kept(tmp_path: Path) -> None:
    for keep_done_s, kept in ((0.2, False), (3600.0, True)):
        home = tmp_path / str(keep_done_s)
        async with running(home, journal={"keep_done_s": keep_done_s, "sweep_interval_s": 0.1}) as run:
            person = {"person_id": "ann", "group_ids": ["staff"], "image": b64(0, 0)}
            assert (await post(run, "newperson", person))["code"] == 0
            await asyncio.sleep(1.0)  # several sweeps, each pruning what was settled over keep_done_s ago
            # kept: the newperson's writes were journalled and settled (the same request in both runs)
            assert (journal_rows(home / "meta.db") > 0) is kept, keep_done_s
