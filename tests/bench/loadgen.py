"""Load generator, run in its own process: closed loop (N connections) or open loop (fixed rate).

Run: python -m tests.bench.loadgen SPEC.json   ->  prints one JSON result line on stdout.

A spec names request templates (url, body file, headers, optional v3 signing) grouped in chains:
a chain's requests run one after the other (the write mix: newperson -> addface -> delperson);
an exclusive chain is never run twice at once (it owns a person id). Bodies are read once and the
same bytes are sent every time; v3 templates are re-signed at most once per second.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from proxy import eventloop
from proxy.v3 import signer


@dataclass(frozen=True, slots=True)
class V3Signing:
    """How to sign a v3 template: its action, the Host it is sent to, the credential."""

    action: str
    host: str
    secret_id: str
    secret_key: str


@dataclass(frozen=True, slots=True)
class Template:
    """One request: where, the exact body bytes, fixed headers, and how to sign it for v3."""

    url: str
    body: bytes
    headers: dict[str, str]
    v3: V3Signing | None
    kind: str  # "v1" or "v3": how to tell a success from a failure


class Signed:
    """Headers of each v3 template, re-signed when the second changes."""

    def __init__(self) -> None:
        self._second = -1
        self._cache: dict[int, dict[str, str]] = {}

    def headers(self, template: Template) -> dict[str, str]:
        if template.v3 is None:
            return template.headers
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._cache.clear()
        key = id(template)
        found = self._cache.get(key)
        if found is None:
            v3 = template.v3
            found = {
                **template.headers,
                "Authorization": signer.authorization(
                    credential=signer.Credential(v3.secret_id, v3.secret_key),
                    service="iai",
                    host=v3.host,
                    content_type="application/json",
                    payload=template.body,
                    timestamp=now,
                ),
                "Content-Type": "application/json",
                "Host": v3.host,
                "X-TC-Action": v3.action,
                "X-TC-Timestamp": str(now),
                "X-TC-Version": "2020-03-03",
                "X-TC-Region": "ap-guangzhou",
            }
            self._cache[key] = found
        return found


def load_templates(spec: dict[str, Any]) -> list[list[Template]]:
    bodies: dict[str, bytes] = {}

    def body(path: str) -> bytes:
        if path not in bodies:
            bodies[path] = Path(path).read_bytes()
        return bodies[path]

    return [
        [
            Template(
                url=t["url"],
                body=body(t["body"]),
                headers=dict(t.get("headers") or {}),
                v3=V3Signing(**t["v3"]) if t.get("v3") else None,
                kind=t["kind"],
            )
            for t in chain
        ]
        for chain in spec["chains"]
    ]


def succeeded(kind: str, raw: bytes) -> bool:
    if kind == "any":
        return True
    try:
        reply = json.loads(raw)
    except ValueError:
        return False
    if kind == "v3":
        return isinstance(reply, dict) and "Error" not in (reply.get("Response") or {"Error": 1})
    return isinstance(reply, dict) and reply.get("code") == 0


class Run:
    """Counters and latencies of one run (only requests that finished inside the window count)."""

    def __init__(self, chains: list[list[Template]], session: aiohttp.ClientSession) -> None:
        self.chains = chains
        self.session = session
        self.signed = Signed()
        self.latencies: list[float] = []
        self.done = 0
        self.total = 0  # warm-up included: what the servers' CPU accounting is divided by
        self.errors = 0
        self.samples: list[str] = []
        self.counting = False

    async def send(self, template: Template, started: float | None = None) -> None:
        begin = time.perf_counter() if started is None else started
        try:
            async with self.session.post(
                template.url, data=template.body, headers=self.signed.headers(template)
            ) as response:
                raw = await response.read()
            ok = response.status == 200 and succeeded(template.kind, raw)
        except (TimeoutError, aiohttp.ClientError) as exc:
            ok, raw = False, repr(exc).encode()
        elapsed = time.perf_counter() - begin
        self.total += 1
        if not self.counting:
            return
        self.done += 1
        self.latencies.append(elapsed)
        if not ok:
            self.errors += 1
            if len(self.samples) < 3:
                self.samples.append(raw[:300].decode("utf-8", "replace"))


async def closed_loop(run: Run, concurrency: int, deadline: float) -> None:
    exclusive = len(run.chains) > 1

    async def worker(index: int) -> None:
        chain = run.chains[index % len(run.chains)] if exclusive else run.chains[0]
        while time.monotonic() < deadline:
            for template in chain:
                await run.send(template)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))


async def open_loop(run: Run, rate: float, deadline: float) -> None:
    free: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(run.chains)):
        free.put_nowait(i)
    tasks: set[asyncio.Task[None]] = set()

    async def arrival(scheduled: float) -> None:
        index = await free.get()
        try:
            chain = run.chains[index]
            await run.send(chain[0], started=scheduled)
            for template in chain[1:]:
                await run.send(template)
        finally:
            free.put_nowait(index)

    start = time.perf_counter()
    i = 0
    while time.monotonic() < deadline:
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(arrival(scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    if tasks:
        await asyncio.wait(tasks, timeout=30)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def execute(spec: dict[str, Any]) -> dict[str, Any]:
    chains = load_templates(spec)
    if spec["mode"] == "open" and len(chains) == 1 and len(chains[0]) == 1:
        chains = chains * 512  # a single request is not exclusive: let arrivals overlap freely
    connector = aiohttp.TCPConnector(limit=int(spec.get("connections", 512)), force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as session:
        run = Run(chains, session)
        warmup = float(spec.get("warmup", 0.5))
        seconds = float(spec["seconds"])
        started = time.monotonic()
        window_start = started + warmup
        end = window_start + seconds

        async def open_window() -> None:
            await asyncio.sleep(warmup)
            run.counting = True

        opener = asyncio.create_task(open_window())
        if spec["mode"] == "closed":
            await closed_loop(run, int(spec["concurrency"]), end)
        else:
            await open_loop(run, float(spec["rate"]), end)
        await opener
        elapsed = time.monotonic() - window_start
    return {
        "done": run.done,
        "total": run.total,
        "errors": run.errors,
        "seconds": elapsed,
        "throughput": run.done / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(run.latencies, 0.50) * 1000,
        "p99_ms": percentile(run.latencies, 0.99) * 1000,
        "error_samples": run.samples,
    }


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    result = eventloop.run(execute(spec))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
