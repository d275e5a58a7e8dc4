"""`python -m tests.bench.shadow_cost`: what a shadow costs the app: p50 and proxy CPU per request, shadow on vs off.

The legacy emulator (v1) and the v3 emulator run on the client core, the proxy alone on the server
core. The same signed v1 compare (two small multipart images: no person needed on either side) is
sent at a fixed rate well under every part's capacity (an open loop: the emulators share a core,
and a saturating load would measure their queue, not the proxy) through a tenant routed `v1`
(verbatim passthrough: shadow off) and then `shadow` (every read also translated and sent to v3 in
the background and compared: sample_percent 100, no cap in the way, no noise replays). The app's
p50 shows what the shadow adds to its latency; the proxy's CPU per request what twin and
comparison cost.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from proxy.emulator.synthetic import subject_photo
from tests.bench.harness import (
    CLIENT_CORE,
    SERVER_CORE,
    V1PROXY,
    Proc,
    Workdir,
    cpu_seconds,
    free_port,
    run_loadgen,
    start,
)
from tests.bench.workloads import APPID, LEGACY_ID, LEGACY_KEY, V3_ID, V3_KEY, v1_authorization, v1_form


def proxy(workdir: Workdir, route: str, v3: str, legacy: str) -> tuple[Proc, str]:
    port = free_port()
    config = {
        "listen": {"host": "127.0.0.1", "port": port},
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "upstream": {"endpoint": v3, "secret_id": V3_ID, "secret_key": V3_KEY},
        "tenants": [{"appid": APPID, "legacy_keys": [{"secret_id": LEGACY_ID, "secret_key": LEGACY_KEY}]}],
        "store": {"url": f"sqlite:///{workdir.path / f'meta-{route}.db'}"},
        "logging": {"format": "json", "level": "info"},
        "migration": {"legacy": {"endpoint": legacy}, "tenants": {APPID: {"route": route}}},
        "shadow": {"sample_percent": 100, "max_calls_per_s": 100000, "noise_percent": 0},
    }
    path = workdir.write(f"proxy-{route}.yaml", json.dumps(config).encode())
    proc = start(
        f"proxy-{route}",
        [V1PROXY, "serve", "--config", str(path)],
        ready="listening on",
        workdir=workdir.path,
        core=SERVER_CORE,
    )
    return proc, f"http://127.0.0.1:{port}"


def measure(workdir: Workdir, url: str, pid: int, seconds: float, rate: float) -> dict[str, Any]:
    body, content_type = v1_form([("imageA", subject_photo(0, 1)), ("imageB", subject_photo(0, 2))])
    spec = {
        "mode": "open",
        "rate": rate,
        "seconds": seconds,
        "warmup": 1.0,
        "chains": [
            [
                {
                    "url": f"{url}/face/compare",
                    "body": str(workdir.write("compare.body", body)),
                    "headers": {"Authorization": v1_authorization(), "Content-Type": content_type},
                    "v3": None,
                    "kind": "v1",
                }
            ]
        ],
    }
    before = cpu_seconds(pid)
    result = run_loadgen(spec, workdir.path)
    cpu = cpu_seconds(pid) - before  # includes the warm-up second's requests: per request over all sent
    result["cpu_us_per_request"] = cpu / max(1, result["total"]) * 1e6
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests/s, well under every part's capacity")
    args = parser.parse_args()
    workdir = Workdir()
    v3 = start(
        "v3",
        [V1PROXY, "emulator", "--host", "127.0.0.1", "--port", "0", "--secret-id", V3_ID, "--secret-key", V3_KEY],
        ready="emulator listening on",
        workdir=workdir.path,
        core=CLIENT_CORE,
    )
    legacy = start(
        "legacy",
        [
            V1PROXY,
            "legacy-emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--appid",
            APPID,
            "--secret-id",
            LEGACY_ID,
            "--secret-key",
            LEGACY_KEY,
        ],
        ready="legacy emulator listening on",
        workdir=workdir.path,
        core=CLIENT_CORE,
    )
    rows = []
    try:
        for route in ("v1", "shadow"):
            proc, url = proxy(workdir, route, v3.url, legacy.url)
            try:
                result = measure(workdir, url, proc.pid, args.seconds, args.rate)
            finally:
                proc.stop()
            if result["errors"]:
                raise RuntimeError(f"{route}: {result['errors']} errors, e.g. {result['error_samples'][:2]}")
            rows.append((route, result))
    finally:
        legacy.stop()
        v3.stop()
    print(f"compare, 2 small images, open loop {args.rate:g} req/s, {args.seconds:g} s per route")
    print("| route | shadow | req/s | app p50 | app p99 | proxy CPU / request |")
    print("|---|---|---|---|---|---|")
    for route, r in rows:
        print(
            f"| {route} | {'on' if route == 'shadow' else 'off'} | {r['throughput']:.0f} | {r['p50_ms']:.2f} ms "
            f"| {r['p99_ms']:.2f} ms | {r['cpu_us_per_request']:.0f} µs |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
