"""`python -m tests.bench.attackers SPEC.json`: slowloris connections and stalled unauthenticated uploads.

Holds ``slowloris`` connections that send a request head one header line every ``line_every_s``
and never finish it, and ``uploads`` connections that announce a 6 MB body without a valid
signature, send its first 64 KB and stall. Each attacker reconnects ``reconnect_s`` after the
proxy cuts it. Prints one JSON line: per kind, connections made, how many the proxy cut (closed
or answered), the time each lived (p50/max), and how many were still open at the end.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from proxy import eventloop

HEAD = b"POST /face/getinfo HTTP/1.1\r\nHost: proxy\r\nUser-Agent: slowloris\r\n"
UPLOAD_BYTES = 6 * 1024 * 1024 - 1024
UPLOAD_HEAD = (
    b"POST /face/newperson HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\n"
    b"Authorization: QUJDREVGR0hJSktMTU5PUFFSU1RhPTEyNTAwMDAwMDAmaz1BS0lEJmU9OTk5OTk5OTk5OSZ0PTEmcj0x\r\n"
    b"Content-Length: " + str(UPLOAD_BYTES).encode() + b"\r\n\r\n"
)


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


async def _until_closed(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def slowloris(host: str, port: int, tally: Tally, spec: dict[str, Any], deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.failed += 1
            await asyncio.sleep(1)
            continue
        tally.made += 1
        tally.open += 1
        born = time.monotonic()
        closed = asyncio.ensure_future(_until_closed(reader))
        try:
            writer.write(HEAD)
            n = 0
            while not closed.done() and time.monotonic() < deadline:
                await asyncio.wait([closed], timeout=spec["line_every_s"])
                if not closed.done():
                    n += 1
                    writer.write(b"X-Slow-%d: x\r\n" % n)
        except OSError:
            pass
        finally:
            tally.open -= 1
            if closed.done() or writer.is_closing():
                tally.cut += 1
                tally.lifetimes.append(time.monotonic() - born)
            closed.cancel()
            writer.close()
        await asyncio.sleep(spec["reconnect_s"])


async def upload(host: str, port: int, tally: Tally, spec: dict[str, Any], deadline: float) -> None:
    chunk = b'{"appid": "1250000000", "image": "' + b"A" * (64 * 1024)
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            tally.failed += 1
            await asyncio.sleep(1)
            continue
        tally.made += 1
        tally.open += 1
        born = time.monotonic()
        try:
            writer.write(UPLOAD_HEAD + chunk)
            await asyncio.wait_for(_until_closed(reader), timeout=max(0.0, deadline - time.monotonic()))
            tally.cut += 1
            tally.lifetimes.append(time.monotonic() - born)
        except (TimeoutError, OSError):
            pass
        finally:
            tally.open -= 1
            writer.close()
        await asyncio.sleep(spec["reconnect_s"])


async def attack(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["host"], int(spec["port"])
    deadline = time.monotonic() + float(spec["seconds"])
    kinds = {"slowloris": Tally(), "uploads": Tally()}
    tasks = []
    for i in range(int(spec["slowloris"])):
        tasks.append(asyncio.create_task(slowloris(host, port, kinds["slowloris"], spec, deadline)))
        if i % 200 == 199:
            await asyncio.sleep(0.1)  # ramp up: the accept queue is finite
    for _ in range(int(spec["uploads"])):
        tasks.append(asyncio.create_task(upload(host, port, kinds["uploads"], spec, deadline)))
    await asyncio.sleep(max(0.0, deadline - time.monotonic() - 0.5))
    open_at_end = {name: tally.open for name, tally in kinds.items()}
    await asyncio.gather(*tasks, return_exceptions=True)
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
