"""`--phase abuse`: legitimate small requests under slowloris + stalled unauthenticated uploads; RSS after a burst.

1. The proxy alone: the small workload (compare by URL) in a closed loop, its throughput and p50
   (measured before and again after the attack; the baseline is their mean: the machine is shared).
2. The same while ``SLOWLORIS`` slowloris connections and ``UPLOADS`` stalled unauthenticated 6 MB
   uploads are held against it (tests/bench/attackers.py, reconnecting as they are cut); the
   proxy's RSS sampled throughout; how the attackers were cut.
3. A burst of 256 verify requests with 5 MB images in flight at once (signed: read whole, within
   the body budget), then the proxy's RSS every 0.5 s for 10 s.
"""

from __future__ import annotations

import json
import resource
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from proxy.emulator.synthetic import photo_of_size
from tests.bench.harness import CLIENT_CORE, PYTHON, REPO, cpu_seconds, memory_kb, pinned
from tests.bench.workloads import PERSON, Workload, b64, request, v1_form

if TYPE_CHECKING:
    from tests.bench.__main__ import Bench

SLOWLORIS = 3000
UPLOADS = 300
BURST = 256
BURST_IMAGE_BYTES = 5_000_000
# the defaults otherwise: header 10 s, body budget 256 MiB, ...; the one tenant's in-flight cap raised to the
# burst: the burst is about memory (the body budget admits it), not about one tenant's share among several
LIMITS = {"max_connections": 8192, "max_inflight_per_tenant": BURST}
MB = 1024 * 1024
V3Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def raise_fd_limit() -> int:
    """The bench process (and the load generator it starts) may hold thousands of sockets."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class RssSampler:
    """Samples a process's VmRSS every ``every_s`` in a thread until stopped."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.every_s):
            self.samples.append((time.monotonic() - started, memory_kb(self.pid, "VmRSS")))

    @property
    def peak_kb(self) -> int:
        return max((kb for _t, kb in self.samples), default=0)


class CpuMeter:
    """utime+stime of named processes, as cores used (CPU seconds per second) since the last reading."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._last = self._read()

    def _read(self) -> tuple[float, dict[str, float]]:
        return time.monotonic(), {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def cores(self) -> dict[str, float]:
        (t0, before), (t1, now) = self._last, self._read()
        self._last = (t1, now)
        return {name: round((now[name] - before.get(name, now[name])) / (t1 - t0), 3) for name in now}


def cpu_line(cores: dict[str, dict[str, float]]) -> str:
    """Where the CPU went (cores): the proxy alone on its core; the attackers on the client core, which the
    load generator and the emulator share (their CPU there is lost to the legit chain, not the proxy's doing)."""
    alone, loaded = cores["attackers_alone"], cores["loaded"]
    return (
        f"CPU (cores): proxy unloaded {cores['unloaded']['proxy']:.2f}, attackers alone {alone['proxy']:.2f}, "
        f"loaded {loaded['proxy']:.2f}; the attackers' own process {alone['attackers']:.2f} alone, "
        f"{loaded['attackers']:.2f} loaded (on the client core)"
    )


def start_attackers(bench: Bench, port: int, seconds: float, scale: float) -> subprocess.Popen[bytes]:
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "slowloris": int(SLOWLORIS * scale),
        "uploads": int(UPLOADS * scale),
        "seconds": seconds,
        "line_every_s": 2.0,
        "reconnect_s": 0.5,
    }
    path = bench.workdir.write("attackers.json", json.dumps(spec).encode())
    return subprocess.Popen(
        pinned(CLIENT_CORE, [PYTHON, "-m", "tests.bench.attackers", str(path)]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )


def abuse_phase(bench: Bench, v3_call: V3Call) -> dict[str, Any]:
    """Run the phase; ``--quick`` holds a tenth of the attackers."""
    nofile = raise_fd_limit()
    scale = 0.1 if bench.quick else 1.0
    emulator = bench.emulator(0)
    proxy = bench.proxy(emulator.url, limits=LIMITS)
    port = int(proxy.url.rsplit(":", 1)[1])
    small = next(w for w in bench.all_workloads if w.name == "compare_url")
    seconds = max(bench.seconds, 5.0)
    out: dict[str, Any] = {
        "slowloris": int(SLOWLORIS * scale),
        "uploads": int(UPLOADS * scale),
        "limits": LIMITS,
        "nofile": nofile,
    }
    try:
        time.sleep(1)
        out["idle_rss_kb"] = idle = memory_kb(proxy.pid, "VmRSS")
        cpu = CpuMeter({"proxy": proxy.pid})
        out["unloaded"] = bench.load(small, "proxy", proxy.url, [], mode="closed", concurrency=8, seconds=seconds)
        cores = {"unloaded": cpu.cores()}
        print(f"  abuse: unloaded {out['unloaded']['throughput']:.0f} req/s p50 {out['unloaded']['p50_ms']:.2f} ms")
        settle = 12.0  # ramp-up, and long enough for every slowloris to have been cut once (header_timeout_s 10)
        attack_s = settle + seconds + 10
        with RssSampler(proxy.pid) as rss:
            attackers = start_attackers(bench, port, attack_s, scale)
            cpu.pids["attackers"] = attackers.pid
            time.sleep(settle - 5)
            cpu.cores()
            time.sleep(5)
            cores["attackers_alone"] = cpu.cores()
            out["loaded"] = bench.load(small, "proxy", proxy.url, [], mode="closed", concurrency=8, seconds=seconds)
            cores["loaded"] = cpu.cores()
            stdout, stderr = attackers.communicate(timeout=attack_s + 60)
        if attackers.returncode != 0:
            raise RuntimeError(f"attackers failed: {stderr.decode()[-2000:]}")
        out["attackers"] = json.loads(stdout.decode().strip().splitlines()[-1])
        out["attack_peak_rss_kb"] = rss.peak_kb
        # unloaded again, after the attack: the machine is shared, so the baseline is the mean of before and after
        after = bench.load(small, "proxy", proxy.url, [], mode="closed", concurrency=8, seconds=seconds)
        before = out["unloaded"]
        out["unloaded_runs"] = [before, after]
        out["unloaded"] = {
            "throughput": (before["throughput"] + after["throughput"]) / 2,
            "p50_ms": (before["p50_ms"] + after["p50_ms"]) / 2,
            "errors": before["errors"] + after["errors"],
        }
        print(
            f"  abuse: loaded {out['loaded']['throughput']:.0f} req/s p50 {out['loaded']['p50_ms']:.2f} ms,"
            f" peak RSS {rss.peak_kb / 1024:.0f} MB (idle {idle / 1024:.0f} MB); attackers {out['attackers']}",
            flush=True,
        )
        out["cores"] = cores
        print(f"  abuse: {cpu_line(cores)}", flush=True)
        out["burst"] = burst(bench, v3_call, emulator.url, proxy.url, proxy.pid)
    finally:
        proxy.stop()
        emulator.stop()
    return out


def burst(bench: Bench, v3_call: V3Call, emulator_url: str, proxy_url: str, pid: int) -> dict[str, Any]:
    big = photo_of_size(0, 6, BURST_IMAGE_BYTES)
    v3_call(emulator_url, "DetectFace", {"Image": b64(big), "MaxFaceNum": 1})  # the emulator's cache: warm
    verify_big = request(
        "verify",
        v1_form([("person_id", PERSON), ("image", big)]),
        "VerifyFace",
        {"PersonId": PERSON, "Image": b64(big)},
    )
    w = Workload("verify_5m", "verify, 5 MB image", False, BURST, lambda _t, _n: [[verify_big]], len(big))
    idle = memory_kb(pid, "VmRSS")
    with RssSampler(pid, every_s=0.1) as during:
        r = bench.load(w, "proxy", proxy_url, [], mode="closed", concurrency=BURST, seconds=3)
    after: list[tuple[float, int]] = []
    started = time.monotonic()
    while time.monotonic() - started < 10.0:
        time.sleep(0.5)
        after.append((round(time.monotonic() - started, 1), memory_kb(pid, "VmRSS")))
    back = next((t for t, kb in after if kb <= idle + 100 * 1024), None)
    out = {
        "in_flight": BURST,
        "image_bytes": len(big),
        "idle_rss_kb": idle,
        "peak_rss_kb": during.peak_kb,
        "after_rss_kb": after,
        "back_within_100mb_s": back,
        "throughput": r["throughput"],
        "errors": r["errors"],
        "error_samples": [sample[:160] for sample in r.get("error_samples", [])],
    }
    print(
        f"  burst: idle {idle / 1024:.0f} MB, peak {during.peak_kb / 1024:.0f} MB, after 10 s "
        f"{after[-1][1] / 1024:.0f} MB, back within idle+100 MB after {back} s; errors {r['errors']}",
        flush=True,
    )
    return out


def target_lines(abuse: dict[str, Any]) -> list[str]:
    """The issue's abuse targets, each met or not, from a finished phase."""
    un, lo = abuse["unloaded"], abuse["loaded"]
    thr = lo["throughput"] / un["throughput"] if un["throughput"] else 0.0
    p50 = lo["p50_ms"] / un["p50_ms"] if un["p50_ms"] else 0.0
    budget_kb = abuse["idle_rss_kb"] + 256 * 1024  # limits.body_budget_bytes (default)
    attackers = abuse["attackers"]
    cut = all(a["open_at_end"] <= a["connections"] and a["cut_by_proxy"] > 0 for a in attackers.values())
    lines = [
        f"- abuse: {abuse['slowloris']} slowloris + {abuse['uploads']} stalled unauthenticated 6 MB uploads: legit "
        f"throughput {thr:.0%} of unloaded ({lo['throughput']:.0f} vs {un['throughput']:.0f} req/s; target ≥ 90 %: "
        f"{'met' if thr >= 0.9 else 'NOT met'}), p50 {p50:.2f}× unloaded ({lo['p50_ms']:.2f} vs "
        f"{un['p50_ms']:.2f} ms; target ≤ 2×: {'met' if p50 <= 2 else 'NOT met'}), errors {lo['errors']}",
        f"- abuse: proxy peak RSS {abuse['attack_peak_rss_kb'] / 1024:.0f} MB vs idle + body budget "
        f"{budget_kb / 1024:.0f} MB: {'met' if abuse['attack_peak_rss_kb'] <= budget_kb else 'NOT met'}",
        f"- abuse: attackers cut by the proxy: slowloris {attackers['slowloris']['cut_by_proxy']} of "
        f"{attackers['slowloris']['connections']} (lived p50 {attackers['slowloris']['lived_p50_s']} s), uploads "
        f"{attackers['uploads']['cut_by_proxy']} of {attackers['uploads']['connections']} (lived p50 "
        f"{attackers['uploads']['lived_p50_s']} s): {'met' if cut else 'NOT met'}",
    ]
    if "cores" in abuse:
        lines.append(f"- abuse (not a target, where the CPU went): {cpu_line(abuse['cores'])}")
    b = abuse.get("burst")
    if b:
        lines.append(
            f"- burst of {b['in_flight']} × {b['image_bytes'] / 1e6:.0f} MB: idle {b['idle_rss_kb'] / 1024:.0f} MB, "
            f"peak {b['peak_rss_kb'] / 1024:.0f} MB, RSS ≤ idle + 100 MB after {b['back_within_100mb_s']} s "
            f"(target ≤ 10 s: {'met' if b['back_within_100mb_s'] is not None else 'NOT met'}); "
            f"errors {b['errors']} (e.g. {(b.get('error_samples') or ['none'])[0]})"
        )
    return lines
