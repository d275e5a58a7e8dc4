"""Running the indexed persons with bounded concurrency: one worker per person, its rows in manifest order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from proxy.backfill.enrol import Enroller, Outcome
from proxy.backfill.feedback import Feedback
from proxy.backfill.index import ManifestIndex, Person
from proxy.backfill.tally import Tally

REFRESH_S = 0.5


async def run_persons(
    index: ManifestIndex,
    enroller: Enroller,
    *,
    concurrency: int,
    tally: Tally,
    feedback: Feedback,
    on_outcome: Callable[[Outcome], None],
    rate_limited: Callable[[], int],
) -> None:
    """Enrol every person of the index (until `enroller.stopping()`); the queue holds at most 2 x concurrency."""
    queue: asyncio.Queue[Person | None] = asyncio.Queue(maxsize=2 * concurrency)

    def emit(outcome: Outcome) -> None:
        tally.count(outcome)
        on_outcome(outcome)

    async def produce() -> None:
        for person in index.persons():
            if enroller.stopping():
                break
            await queue.put(person)
        for _ in range(concurrency):
            await queue.put(None)

    async def work() -> None:
        while (person := await queue.get()) is not None:
            if await enroller.person(person, emit):
                tally.persons_done += 1

    async def show() -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            tally.rate_limited = rate_limited()
            feedback.refresh()

    display = asyncio.create_task(show())
    try:
        await asyncio.gather(produce(), *(work() for _ in range(concurrency)))
    finally:
        display.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await display
        tally.rate_limited = rate_limited()
        feedback.refresh(final=True)
