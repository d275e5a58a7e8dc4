"""Throughput of the emulator on one core: GetPersonBaseInfo, signed, many concurrent connections.

Run: .venv/bin/python tests/bench/emulator_throughput.py [--seconds 10] [--concurrency 64]
The emulator runs in a subprocess pinned with `taskset -c 0`; this load generator runs on core 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import time

import aiohttp

from proxy.emulator.synthetic import subject_photo
from proxy.v3 import signer

SECRET_ID, SECRET_KEY = "AKIDbench", "bench-key"


def headers_for(host: str, action: str, body: bytes) -> dict[str, str]:
    ts = int(time.time())
    auth = signer.authorization(
        credential=signer.Credential(SECRET_ID, SECRET_KEY),
        service="iai",
        host=host,
        content_type="application/json",
        payload=body,
        timestamp=ts,
    )
    return {
        "Authorization": auth,
        "Content-Type": "application/json",
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(ts),
        "X-TC-Version": "2020-03-03",
        "X-TC-Region": "ap-guangzhou",
    }


async def main(seconds: float, concurrency: int) -> None:
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the clock
        [
            *pin,
            sys.executable,
            "-m",
            "proxy",
            "emulator",
            "--port",
            "0",
            "--secret-id",
            SECRET_ID,
            "--secret-key",
            SECRET_KEY,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        host = url.removeprefix("http://")
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

            async def post(action: str, payload: dict[str, object]) -> dict[str, object]:
                body = json.dumps(payload).encode()
                async with session.post(url + "/", data=body, headers=headers_for(host, action, body)) as r:
                    return dict(json.loads(await r.read())["Response"])

            await post("CreateGroup", {"GroupId": "g", "GroupName": "G"})
            created = await post(
                "CreatePerson",
                {
                    "GroupId": "g",
                    "PersonId": "p",
                    "PersonName": "P",
                    "Image": base64.b64encode(subject_photo(0, 0)).decode(),
                },
            )
            assert "FaceId" in created, created
            body = b'{"PersonId": "p"}'
            done = errors = 0
            deadline = time.monotonic() + seconds
            signed: dict[int, dict[str, str]] = {}  # one signature per second: the generator must not be the limit

            def bench_headers() -> dict[str, str]:
                now = int(time.time())
                if now not in signed:
                    signed.clear()
                    signed[now] = headers_for(host, "GetPersonBaseInfo", body)
                return signed[now]

            async def worker() -> None:
                nonlocal done, errors
                while time.monotonic() < deadline:
                    async with session.post(url + "/", data=body, headers=bench_headers()) as r:
                        reply = json.loads(await r.read())["Response"]
                    if "Error" in reply:
                        errors += 1
                    done += 1

            start = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.monotonic() - start
        print(
            f"GetPersonBaseInfo: {done / elapsed:.0f} req/s over {elapsed:.1f}s, {concurrency} connections, "
            f"{errors} errors, emulator pinned={'yes' if pin else 'no'}"
        )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    ns = parser.parse_args()
    asyncio.run(main(ns.seconds, ns.concurrency))
