"""Give freed heap back to the OS after a burst of large bodies (glibc ``malloc_trim``), off the event loop.

glibc keeps freed memory in its arenas: after 256 uploads of 5 MB the process stays near its peak
RSS although nothing is live. When the body budget drains (no body in flight) after holding at
least ``threshold_bytes``, one ``malloc_trim(0)`` runs in a thread ``delay_s`` later. Not glibc
(musl, macOS): nothing to do, nothing done.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger("proxy.heap")


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class HeapTrimmer:
    """Called by the body budget when it drains; trims the heap once per burst."""

    def __init__(self, *, threshold_bytes: int = 32 * 1024 * 1024, delay_s: float = 1.0) -> None:
        self.threshold_bytes = threshold_bytes
        self.delay_s = delay_s
        self.trims = 0
        self._trim = _malloc_trim()
        self._pending: asyncio.TimerHandle | None = None

    @property
    def available(self) -> bool:
        return self._trim is not None

    def drained(self, peak_bytes: int) -> None:
        """The budget is empty again; ``peak_bytes`` is the most it held since it was last empty."""
        if self._trim is None or peak_bytes < self.threshold_bytes or self._pending is not None:
            return
        loop = asyncio.get_running_loop()
        self._pending = loop.call_later(self.delay_s, lambda: loop.create_task(self._run()))

    async def _run(self) -> None:
        self._pending = None
        trim = self._trim
        if trim is None:
            return
        started = time.perf_counter()
        await asyncio.to_thread(trim, 0)
        self.trims += 1
        log.debug("heap.trimmed", ms=round((time.perf_counter() - started) * 1000, 1))
