"""The first newperson into a group goes alone: it may have to create the group; the others wait for it.

v3 has no "create the group if missing" on CreatePerson: the live path tries CreatePerson, and on
GroupIdNotExist creates the group and tries again. A backfill starting N persons at once into a
new group would send N refused CreatePersons (N wasted slots of the quota) before the group is
there. With the gate, the first person into each group runs alone; once its person was created,
the group is known to exist and every later person goes straight through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

GroupKey = tuple[str, str, str]  # (appid, bucket, v1 group id)


class GroupGate:
    """Groups known to exist in v3 (in this run), and a turn per group not yet known."""

    def __init__(self) -> None:
        self._known: set[GroupKey] = set()
        self._turns: dict[GroupKey, asyncio.Lock] = {}

    @asynccontextmanager
    async def turn(self, groups: Iterable[GroupKey]) -> AsyncIterator[None]:
        """Hold the turn of each group not known yet (in a fixed order: no deadlock) while the caller creates."""
        held: list[asyncio.Lock] = []
        try:
            for group in sorted(set(groups)):
                if group in self._known:
                    continue
                turn = self._turns.setdefault(group, asyncio.Lock())
                await turn.acquire()
                if group in self._known:  # the person before us created it
                    turn.release()
                    continue
                held.append(turn)
            yield
        finally:
            for turn in held:
                turn.release()

    def known(self, groups: Iterable[GroupKey]) -> None:
        """These groups exist in v3 now (a person was created in them)."""
        for group in groups:
            self._known.add(group)
            self._turns.pop(group, None)
