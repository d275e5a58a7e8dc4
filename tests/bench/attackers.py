"""`python -m tests.bench.attackers SPEC.json`: slowloris connections and stalled unauthenticated uploads.

Holds ``slowloris`` connections that send a request head one header line every ``line_every_s``
and never finish it, and ``uploads`` connections that announce a 6 MB body without a valid
signature, send its first 64 KB and stall. Each attacker reconnects ``reconnect_s`` after the
proxy cuts it. Prints one JSON line: per kind, connections made, how many the proxy cut (closed
or answered), the time each lived (p50/max), and how many were still open at the end.

The attackers share the client core with the load generator and the emulator, so they cost as little
as the attack allows: each connection is a bare asyncio protocol with timer callbacks (no task, no
stream per connection), on uvloop; what reaches the proxy is the same bytes at the same times.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any, cast

from proxy import eventloop

HEAD = b"POST /face/getinfo HTTP/1.1\r\nHost: proxy\r\nUser-Agent: slowloris\r\n"
UPLOAD_BYTES = 6 * 1024 * 1024 - 1024
UPLOAD_HEAD = (
    b"POST /face/newperson HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\n"
    b"Authorization: QUJDREVGR0hJSktMTU5PUFFSU1RhPTEyNTAwMDAwMDAmaz1BS0lEJmU9OTk5OTk5OTk5OSZ0PTEmcj0x\r\n"
    b"Content-Length: " + str(UPLOAD_BYTES).encode() + b"\r\n\r\n"
)
UPLOAD_FIRST = UPLOAD_HEAD + b'{"appid": "1250000000", "image": "' + b"A" * (64 * 1024)


class Tally:
    def __init__(self) -> None:
        self.made = 0
        self.cut = 0
        self.open = 0
        self.failed = 0
        self.lifetimes: list[float] = []

    def summary(self) -> dict[str, Any]:
        lives = sorted(self.lifetimes)
        return {
            "connections": self.made,
            "cut_by_proxy": self.cut,
            "open_at_end": self.open,
            "connect_failures": self.failed,
            "lived_p50_s": round(lives[len(lives) // 2], 2) if lives else None,
            "lived_max_s": round(lives[-1], 2) if lives else None,
        }


class Attack:
    """The attack's clock and settings; stopping it closes every connection without counting a cut."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.loop = asyncio.get_running_loop()
        self.host, self.port = spec["host"], int(spec["port"])
        self.line_every_s = float(spec["line_every_s"])
        self.reconnect_s = float(spec["reconnect_s"])
        self.deadline = time.monotonic() + float(spec["seconds"])
        self.live: set[Attacker] = set()
        self.connecting: set[asyncio.Task[None]] = set()
        self.stopped = False

    def connect(self, kind: type[Attacker], tally: Tally) -> None:
        if self.stopped or time.monotonic() >= self.deadline:
            return
        task = self.loop.create_task(self._connect(kind, tally))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def _connect(self, kind: type[Attacker], tally: Tally) -> None:
        try:
            await self.loop.create_connection(lambda: kind(self, tally), self.host, self.port)
        except OSError:
            tally.failed += 1
            self.loop.call_later(1.0, self.connect, kind, tally)

    def stop(self) -> None:
        self.stopped = True
        for task in self.connecting:
            task.cancel()
        for attacker in list(self.live):
            attacker.close()


class Attacker(asyncio.Protocol):
    """One attacking connection: sends its first bytes, then waits to be cut and reconnects."""

    first = b""

    def __init__(self, attack: Attack, tally: Tally) -> None:
        self.attack, self.tally = attack, tally
        self.transport: asyncio.Transport | None = None
        self.born = 0.0
        self.closing = False  # closed by the attack itself (its end), not cut

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport, self.born = cast(asyncio.Transport, transport), time.monotonic()
        self.tally.made += 1
        self.tally.open += 1
        self.attack.live.add(self)
        self.transport.write(self.first)
        self.started()

    def started(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        pass  # the proxy's answer (408, 401, ...): read and dropped; the close that follows is the cut

    def connection_lost(self, exc: BaseException | None) -> None:
        self.tally.open -= 1
        self.attack.live.discard(self)
        self.transport = None
        if self.closing:
            return
        self.tally.cut += 1
        self.tally.lifetimes.append(time.monotonic() - self.born)
        self.attack.loop.call_later(self.attack.reconnect_s, self.attack.connect, type(self), self.tally)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()


class Slowloris(Attacker):
    """A request head that never ends: one more header line every ``line_every_s``."""

    first = HEAD

    def started(self) -> None:
        self.lines = 0
        self.attack.loop.call_later(self.attack.line_every_s, self.line)

    def line(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.lines += 1
        self.transport.write(b"X-Slow-%d: x\r\n" % self.lines)
        self.attack.loop.call_later(self.attack.line_every_s, self.line)


class Upload(Attacker):
    """A 6 MB upload without a valid signature: its head and first 64 KB, then nothing."""

    first = UPLOAD_FIRST


async def attack(spec: dict[str, Any]) -> dict[str, Any]:
    run = Attack(spec)
    kinds = {"slowloris": Tally(), "uploads": Tally()}
    for i in range(int(spec["slowloris"])):
        run.connect(Slowloris, kinds["slowloris"])
        if i % 200 == 199:
            await asyncio.sleep(0.1)  # ramp up: the accept queue is finite
    for _ in range(int(spec["uploads"])):
        run.connect(Upload, kinds["uploads"])
    await asyncio.sleep(max(0.0, run.deadline - time.monotonic() - 0.5))
    open_at_end = {name: tally.open for name, tally in kinds.items()}
    await asyncio.sleep(max(0.0, run.deadline - time.monotonic()))
    run.stop()
    await asyncio.sleep(0.1)
    out = {name: tally.summary() for name, tally in kinds.items()}
    for name, count in open_at_end.items():
        out[name]["open_at_end"] = count
    return out


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # uvloop, like the load generator: the attackers share the client core with it and the emulator
    print(json.dumps(eventloop.run(attack(spec), loop=spec.get("loop", "uvloop"))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
