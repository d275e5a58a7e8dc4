"""The proxy's cost per small-JSON request (v1 compare by URL), measured so that a shared machine does not matter.

Run: python -m tests.bench.hotpath [--tool callgrind|cpu|pyspy|signal] [--path proxy|floor] [--requests N]

Starts the static server, the v3 emulator (0 ms) and the proxy as the bench configures it, sends
`--warmup` then exactly `--requests` v1 compare_url requests (closed loop, `--concurrency` at once)
and prints the proxy's cost per measured request:
- ``callgrind``: instructions per request (the proxy runs under valgrind; instrumentation is on only
  for the measured requests): deterministic within a fraction of a percent, whatever else runs;
- ``cpu``: the proxy's utime+stime per request (what the bench's saturation phase reports; noisy);
- ``pyspy``: a py-spy profile (raw format, --out FILE) of the measured requests;
- ``signal``: SIGUSR1 before and SIGUSR2 after the measured requests, for a ``--launcher`` (a script run
  instead of ``v1proxy``, same arguments) that profiles in between (e.g. cProfile).
``--path floor`` measures the bench's floor instead (2026-12-01: proxy 1.16 M, floor 0.73 M instructions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench import __main__ as bench_main
from tests.bench.harness import CLK_TCK, PYTHON, Proc, Workdir, cpu_seconds, free_port, start
from tests.bench.workloads import Images, workloads


async def drive(template: dict[str, Any], body: bytes, count: int, concurrency: int) -> int:
    """Send `count` requests, `concurrency` at a time; the number that did not answer code 0."""
    headers = dict(template["headers"])
    left = count
    failed = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:

        async def worker() -> None:
            nonlocal left, failed
            while left > 0:
                left -= 1
                async with session.post(template["url"], data=body, headers=headers) as reply:
                    raw = await reply.read()
                if reply.status != 200 or (template["kind"] == "v1" and json.loads(raw).get("code") != 0):
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed


def user_seconds(pid: int) -> float:
    """utime of `pid` alone, in seconds (cpu_seconds minus the kernel's part)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", choices=("callgrind", "cpu", "pyspy", "signal"), default="callgrind")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--path", choices=("proxy", "floor"), default="proxy", help="floor: the bench's floor instead")
    parser.add_argument("--launcher", type=Path, help="a Python script run instead of v1proxy (same arguments)")
    parser.add_argument("--out", type=Path, help="pyspy: the raw profile; callgrind: a copy of the output file")
    args = parser.parse_args()

    workdir = Workdir()
    images = Images.make()
    workdir.write("static/a.jpg", images.small_a)
    workdir.write("static/b.jpg", images.small_b)
    port = free_port()
    static = start(
        "static",
        [PYTHON, "-m", "tests.bench.static", str(workdir.path / "static"), str(port)],
        ready="listening on",
        workdir=workdir.path,
        core=None,
    )
    procs: list[Proc] = [static]
    cg_out = workdir.path / "callgrind.out"
    plain_start = bench_main.start  # type: ignore[attr-defined]

    def wrapped(name: str, argv: list[str], **kwargs: Any) -> Proc:
        if name.startswith(args.path):
            if args.launcher and argv[0].endswith("v1proxy"):
                argv = [PYTHON, str(args.launcher), *argv[1:]]
            elif args.launcher and argv[1:3] == ["-m", "tests.bench.floor"]:
                argv = [PYTHON, str(args.launcher), *argv[3:]]
            if args.tool == "callgrind":
                argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={cg_out}", *argv]
                kwargs["timeout"] = 600
        return plain_start(name, argv, **kwargs)

    bench_main.start = wrapped  # type: ignore[attr-defined]
    try:
        bench = bench_main.Bench(
            quick=True, seconds=1, workdir=workdir, images=images, static=static, only={"compare_url"}
        )
        emulator = bench.emulator(0)
        procs.append(emulator)
        proxy = bench.proxy(emulator.url, core=None, seed=False) if args.path == "proxy" else bench.floor(emulator.url)
        procs.append(proxy)
        w = next(x for x in workloads(images, static.url) if x.name == "compare_url")
        template = bench.chains(w, args.path, proxy.url, 1)[0][0]
        body = Path(template["body"]).read_bytes()
        failed = asyncio.run(drive(template, body, args.warmup, args.concurrency))
        pid = proxy.pid
        if args.tool == "callgrind":
            subprocess.run(["callgrind_control", "-i", "on", str(pid)], check=True, capture_output=True)
        spy = None
        if args.tool == "pyspy":
            out = args.out or workdir.path / "profile.txt"
            pyspy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
            spy = subprocess.Popen(
                [
                    pyspy,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    "500",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "-o",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1.0)
        if args.tool == "signal":  # a --launcher that profiles between SIGUSR1 and SIGUSR2
            os.kill(pid, signal.SIGUSR1)
        cpu0, t0, ut0 = cpu_seconds(pid), time.monotonic(), user_seconds(pid)
        failed += asyncio.run(drive(template, body, args.requests, args.concurrency))
        cpu1, t1, ut1 = cpu_seconds(pid), time.monotonic(), user_seconds(pid)
        if args.tool == "signal":
            os.kill(pid, signal.SIGUSR2)
            time.sleep(2)
        result: dict[str, Any] = {
            "requests": args.requests,
            "failed": failed,
            "cpu_us_per_req": round((cpu1 - cpu0) / args.requests * 1e6, 1),
            "user_us_per_req": round((ut1 - ut0) / args.requests * 1e6, 1),
            "req_per_s": round(args.requests / (t1 - t0), 1),
        }
        if spy is not None:
            spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
            spy.wait(60)
            result["profile"] = str(args.out or workdir.path / "profile.txt")
        if args.tool == "callgrind":
            subprocess.run(["callgrind_control", "-i", "off", str(pid)], check=True, capture_output=True)
            proxy.stop()
            totals = [
                line
                for f in sorted(workdir.path.glob("callgrind.out*"))
                for line in f.read_text().splitlines()
                if line.startswith(("summary:", "totals:"))
            ]
            instructions = max(int(line.split()[1]) for line in totals)
            result["instructions_per_req"] = instructions // args.requests
            if args.out:
                for f in workdir.path.glob("callgrind.out*"):
                    shutil.copy(f, args.out)
        print(json.dumps(result), flush=True)
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(workdir.path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
