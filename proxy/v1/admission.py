"""What a request must obtain before its body is read: a slot of its tenant and a share of the body budget."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator

from proxy.v1.errors import V1Error


class BodyBudget:
    """The bytes of request bodies being read or served at once, by declared size (FIFO waiters).

    A request that does not fit waits up to ``wait_s`` for others to finish, then gets code 15.
    A reservation is held for the whole request: its body (and what is made from it) lives that long.
    """

    def __init__(self, capacity: int, *, on_drained: Callable[[int], None] | None = None) -> None:
        self.capacity = capacity
        self.used = 0
        self.peak = 0  # the most held since the budget was last empty
        self._on_drained = on_drained
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @contextlib.asynccontextmanager
    async def reserve(self, size: int, *, wait_s: float) -> AsyncIterator[None]:
        held = await self.acquire(size, wait_s=wait_s)
        try:
            yield
        finally:
            self.release(held)

    async def acquire(self, size: int, *, wait_s: float) -> int:
        """Reserve `size` bytes (at most the capacity), waiting up to `wait_s`; what to `release` after."""
        size = min(size, self.capacity)
        if self._waiters or self.used + size > self.capacity:
            await self._acquire(size, wait_s)
        else:
            self.used += size
        if self.used > self.peak:
            self.peak = self.used
        return size

    def release(self, size: int) -> None:
        """Give back what `acquire` reserved."""
        self.used -= size
        if self._waiters:
            self._wake()
        if self.used == 0:
            peak, self.peak = self.peak, 0
            if self._on_drained is not None:
                self._on_drained(peak)  # e.g. give the burst's freed heap back (proxy.heap)

    async def _acquire(self, size: int, wait_s: float) -> None:
        if not self._waiters and self.used + size <= self.capacity:
            self.used += size
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((size, future))
        try:
            async with asyncio.timeout(wait_s):
                await future  # _wake counts `size` as used when it grants
        except BaseException as exc:  # timed out, or the request was cancelled while waiting
            if future.done() and not future.cancelled():
                self.used -= size  # granted just as the wait ended: give it back
            else:
                future.cancel()  # _wake drops it from the queue
            self._wake()
            if isinstance(exc, TimeoutError):
                raise V1Error(15, "too many request bodies in flight; retry shortly") from None
            raise

    def _wake(self) -> None:
        while self._waiters:
            size, future = self._waiters[0]
            if future.done():  # timed out or cancelled, still queued
                self._waiters.popleft()
                continue
            if self.used + size > self.capacity:
                return
            self._waiters.popleft()
            self.used += size
            future.set_result(None)


class TenantSlots:
    """At most ``limit`` requests of one tenant served at once; one more gets code 15 at once."""

    def __init__(self) -> None:
        self._busy: dict[str, int] = {}

    def busy(self, tenant: str) -> int:
        return self._busy.get(tenant, 0)

    @contextlib.contextmanager
    def hold(self, tenant: str, *, limit: int) -> Iterator[None]:
        self.take(tenant, limit=limit)
        try:
            yield
        finally:
            self.give(tenant)

    def take(self, tenant: str, *, limit: int) -> None:
        """Take one of `tenant`'s slots (V1Error 15 when all `limit` are busy); `give` it back after."""
        busy = self._busy.get(tenant, 0)
        if busy >= limit:
            raise V1Error(15, f"too many requests of this appid in flight (limit {limit})")
        self._busy[tenant] = busy + 1

    def give(self, tenant: str) -> None:
        left = self._busy[tenant] - 1
        if left:
            self._busy[tenant] = left
        else:
            del self._busy[tenant]
