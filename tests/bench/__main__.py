"""`python -m tests.bench [--quick]`: the proxy side by side with direct v3, nginx and the floor; one table.

Phases: (1) emulator at 0 ms — saturation throughput, proxy/floor/nginx CPU per request, then
latency at half of the slowest path's saturation, per workload and path; (2) emulator at 50 ms —
latency for the small and the 2 × 1 MB workloads; (3) emulator at 200 ms — the proxy's peak RSS
with 256 requests in flight carrying 1 MB images; (4) `--workers 2` if the proxy has it; (5) a
py-spy profile of the proxy on the 2 × 1 MB compare. Servers run on core 0, the emulator, the
static server and the load generator on core 1. Writes tests/bench/results/latest.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.emulator.synthetic import photo_of_size
from proxy.v3 import signer
from tests.bench import abuse, backfill, fleet, report, shadow
from tests.bench.harness import (
    CLIENT_CORE,
    HAS_TASKSET,
    PYTHON,
    REPO,
    SERVER_CORE,
    V1PROXY,
    Proc,
    Workdir,
    children,
    cpu_of,
    free_port,
    memory_kb,
    run_loadgen,
    start,
)
from tests.bench.nginx import start_canned_v3, start_nginx
from tests.bench.workloads import (
    APPID,
    GROUP,
    LEGACY_ID,
    LEGACY_KEY,
    PERSON,
    V3_ID,
    V3_KEY,
    WRITE_GROUP,
    BodyFiles,
    Images,
    Request,
    Workload,
    b64,
    floor_template,
    request,
    v1_authorization,
    v1_form,
    v1_template,
    v3_template,
    workloads,
    write_floor_bodies,
)
from tests.bench.wrk import machine_busy_seconds, run_wrk, write_script, wrk_binary

PATHS = ("direct", "nginx", "floor", "proxy")
PHASES = ("saturation", "latency50", "rss", "workers", "profile", "backfill", "abuse", "shadow", "fleet")
RESULTS = REPO / "tests" / "bench" / "results"


def v3_call(base_url: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
    """A synchronous signed v3 call (setup only)."""
    body = json.dumps(params).encode()
    host = base_url.removeprefix("http://")
    now = int(time.time())
    headers = {
        "Authorization": signer.authorization(
            credential=signer.Credential(V3_ID, V3_KEY),
            service="iai",
            host=host,
            content_type="application/json",
            payload=body,
            timestamp=now,
        ),
        "Content-Type": "application/json",
        "X-TC-Action": action,
        "X-TC-Timestamp": str(now),
        "X-TC-Version": "2020-03-03",
        "X-TC-Region": "ap-guangzhou",
    }
    req = urllib.request.Request(base_url + "/", data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(req, timeout=60) as reply:  # noqa: S310 - local
        return dict(json.loads(reply.read())["Response"])


def v1_call(base_url: str, req: Request) -> dict[str, Any]:
    headers = {"Authorization": v1_authorization(), "Content-Type": req.v1_type}
    r = urllib.request.Request(f"{base_url}/face/{req.op}", data=req.v1_body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(r, timeout=60) as reply:  # noqa: S310 - local
        return dict(json.loads(reply.read()))


@dataclass
class Bench:
    """One benchmark run's settings, files and results."""

    quick: bool
    seconds: float
    workdir: Workdir
    images: Images
    static: Proc
    only: set[str]
    files: BodyFiles = field(init=False)
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run_index: int = 0

    def __post_init__(self) -> None:
        self.files = BodyFiles(self.workdir.path / "bodies")

    @property
    def all_workloads(self) -> list[Workload]:
        return [w for w in workloads(self.images, self.static.url) if not self.only or w.name in self.only]

    # -- servers ---------------------------------------------------------------------------
    def emulator(self, latency_ms: int) -> Proc:
        proc = start(
            f"emulator{latency_ms}",
            [
                V1PROXY,
                "emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--secret-id",
                V3_ID,
                "--secret-key",
                V3_KEY,
                "--latency-ms",
                str(latency_ms),
            ],
            ready="listening on",
            workdir=self.workdir.path,
            core=CLIENT_CORE,
        )
        self.seed_direct(proc.url)
        return proc

    def seed_direct(self, url: str) -> None:
        """Groups and persons for the direct/nginx paths; every workload image analysed once (warm cache)."""
        for group in (GROUP, WRITE_GROUP):
            v3_call(url, "CreateGroup", {"GroupId": group, "GroupName": group})
        for i, photo in enumerate(self.images.enrol):
            person = PERSON if i == 0 else f"bench_p{i}"
            reply = v3_call(
                url, "CreatePerson", {"GroupId": GROUP, "PersonId": person, "PersonName": person, "Image": b64(photo)}
            )
            if "Error" in reply:
                raise RuntimeError(f"seeding the emulator failed: {reply['Error']}")
        for image in self.images.all():
            v3_call(url, "DetectFace", {"Image": b64(image), "MaxFaceNum": 1})
        v3_call(url, "CompareFace", {"UrlA": f"{self.static.url}/a.jpg", "UrlB": f"{self.static.url}/b.jpg"})

    def proxy(
        self,
        upstream: str,
        *,
        workers: int = 1,
        core: str | None = SERVER_CORE,
        seed: bool = True,
        limits: dict[str, Any] | None = None,
    ) -> Proc:
        """The proxy in front of `upstream`; `seed`: create the persons (needs an upstream that really enrols)."""
        self.run_index += 1
        port = free_port()
        store = self.workdir.path / f"meta{self.run_index}.db"
        config = self.workdir.write(
            f"proxy{self.run_index}.yaml",
            json.dumps(
                {
                    "listen": {"host": "127.0.0.1", "port": port},
                    "upstream": {"endpoint": upstream, "secret_id": V3_ID, "secret_key": V3_KEY},
                    "tenants": [
                        {
                            "appid": APPID,
                            "isolated": True,
                            "legacy_keys": [{"secret_id": LEGACY_ID, "secret_key": LEGACY_KEY}],
                        }
                    ],
                    "store": {"url": f"sqlite:///{store}"},
                    # measures the proxy, not v3's contract: no upstream quota (thousands of calls per second);
                    # nor one tenant's admission: the bench's one tenant carries every request (256 in flight in
                    # the RSS phase, wrk's connections in the workers phase), far above the default cap of 32
                    "limits": {"quota_qps": 0, "max_inflight_per_tenant": 4096, **(limits or {})},
                    "admin": {"host": "127.0.0.1", "port": free_port()},
                    "logging": {"format": "json", "level": "info"},  # as deployed: one access-log line per request
                }
            ).encode(),
        )
        argv = [V1PROXY, "serve", "--config", str(config)]
        if workers > 1:
            argv += ["--workers", str(workers)]
        proc = start(f"proxy{self.run_index}", argv, ready="listening on", workdir=self.workdir.path, core=core)
        proc.url = f"http://127.0.0.1:{port}"  # the printed port may be 0
        if seed:
            self.seed_proxy(proc.url)
        return proc

    def seed_proxy(self, url: str) -> None:
        for i, photo in enumerate(self.images.enrol):
            person = PERSON if i == 0 else f"bench_p{i}"
            req = request(
                "newperson",
                v1_form([("person_id", person), ("group_ids[0]", GROUP), ("image", photo)]),
                "CreatePerson",
                {},
            )
            reply = v1_call(url, req)
            if reply.get("code") not in (0, -1302):  # -1302: seeded by an earlier proxy on this emulator
                raise RuntimeError(f"seeding the proxy failed: {reply}")

    def floor(self, upstream: str) -> Proc:
        bodies = self.workdir.path / "floor-bodies"
        write_floor_bodies(bodies, self.all_workloads)
        port = free_port()
        return start(
            "floor",
            [
                PYTHON,
                "-m",
                "tests.bench.floor",
                "--port",
                str(port),
                "--upstream",
                upstream,
                "--bodies",
                str(bodies),
                "--secret-id",
                V3_ID,
                "--secret-key",
                V3_KEY,
            ],
            ready="listening on",
            workdir=self.workdir.path,
            core=SERVER_CORE,
        )

    # -- measuring ---------------------------------------------------------------------------
    def chains(self, w: Workload, path: str, base: str, n: int) -> list[list[dict[str, Any]]]:
        self.run_index += 1
        tag = f"{path[0]}{self.run_index}x"
        auth = v1_authorization()
        out = []
        for chain in w.chains(tag, n):
            if path in ("direct", "nginx"):
                out.append([v3_template(self.files, base, r) for r in chain])
            elif path == "floor":
                out.append([floor_template(self.files, base, w.name, r) for r in chain])
            else:
                out.append([v1_template(self.files, base, r, auth) for r in chain])
        return out

    def load(
        self,
        w: Workload,
        path: str,
        base: str,
        cpu_pids: list[int],
        *,
        mode: str,
        rate: float = 0.0,
        concurrency: int = 0,
        seconds: float | None = None,
    ) -> dict[str, Any]:
        n = concurrency if mode == "closed" else 256
        chains = self.chains(w, path, base, n)
        per_arrival = len(chains[0])
        spec = {
            "mode": mode,
            "chains": chains,
            "concurrency": concurrency,
            "rate": rate / per_arrival,
            "seconds": seconds or self.seconds,
            "warmup": 0.3 if self.quick else 1.0,
        }
        before = cpu_of(cpu_pids) if cpu_pids else 0.0
        result = run_loadgen(spec, self.workdir.path)
        if cpu_pids:
            result["cpu_us_per_req"] = (cpu_of(cpu_pids) - before) / max(1, result["total"]) * 1e6
        return result

    def measure_phase(self, latency_ms: int, names: set[str] | None, *, saturation: bool) -> None:
        emulator = self.emulator(latency_ms)
        procs: dict[str, Proc] = {}
        try:
            try:
                procs["nginx"] = start_nginx(
                    self.workdir.path / f"nginx{latency_ms}", free_port(), emulator.url.removeprefix("http://")
                )
            except RuntimeError as exc:
                self.notes.append(f"nginx path skipped: {exc}")
            procs["floor"] = self.floor(emulator.url)
            procs["proxy"] = self.proxy(emulator.url)
            for w in self.all_workloads:
                if names is not None and w.name not in names:
                    continue
                bases = {"direct": emulator.url, **{k: p.url for k, p in procs.items()}}
                cpu = {
                    "direct": [],
                    "nginx": children(procs["nginx"].pid) if "nginx" in procs else [],
                    "floor": [procs["floor"].pid],
                    "proxy": [procs["proxy"].pid],
                }
                entry = self.results.setdefault(
                    f"{w.name}@{latency_ms}", {"workload": w.name, "title": w.title, "latency_ms": latency_ms}
                )
                paths = [p for p in PATHS if p in bases]
                if saturation:
                    for path in paths:
                        r = self.load(w, path, bases[path], cpu[path], mode="closed", concurrency=w.concurrency)
                        entry.setdefault(path, {})["saturation"] = r
                        print(
                            f"  {w.name:14} {path:6} saturation {r['throughput']:8.1f} req/s"
                            f"  cpu/req {r.get('cpu_us_per_req', 0):8.0f} µs  errors {r['errors']}",
                            flush=True,
                        )
                    slowest = min(entry[p]["saturation"]["throughput"] for p in paths)
                    rate = max(1.0, 0.5 * slowest)
                else:
                    base_entry = self.results.get(f"{w.name}@0")
                    if base_entry is None:
                        continue
                    rate = base_entry["half_rate"]
                    # at 50 ms, keep the same offered load, but never above what 256 connections can carry
                entry["half_rate"] = rate
                for path in paths:
                    r = self.load(w, path, bases[path], cpu[path], mode="open", rate=rate)
                    entry.setdefault(path, {})["half"] = r
                    print(
                        f"  {w.name:14} {path:6} @{rate:7.1f}/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
                        f"  errors {r['errors']}",
                        flush=True,
                    )
        finally:
            for p in procs.values():
                p.stop()
            emulator.stop()

    def rss_phase(self) -> None:
        """Peak RSS of the proxy (and the floor) with 256 in flight carrying 1 MB images, upstream at 200 ms."""
        big = photo_of_size(0, 6, 1_000_000)
        emulator = self.emulator(200)
        v3_call(emulator.url, "DetectFace", {"Image": b64(big), "MaxFaceNum": 1})
        verify_big = request(
            "verify",
            v1_form([("person_id", PERSON), ("image", big)]),
            "VerifyFace",
            {"PersonId": PERSON, "Image": b64(big)},
        )
        w = Workload("verify_1m", "verify, 1 MB image", False, 256, lambda _t, _n: [[verify_big]], len(big))
        proxy = self.proxy(emulator.url)
        floor = None
        try:
            write_floor_bodies(self.workdir.path / "floor-bodies", [w])
            floor = self.floor(emulator.url)
            out: dict[str, Any] = {"in_flight": 256, "image_bytes": len(big), "upstream_latency_ms": 200}
            for name, proc in (("proxy", proxy), ("floor", floor)):
                idle = memory_kb(proc.pid, "VmRSS")
                path = "proxy" if name == "proxy" else "floor"
                r = self.load(w, path, proc.url, [], mode="closed", concurrency=256, seconds=2 if self.quick else 4)
                out[name] = {
                    "idle_rss_kb": idle,
                    "peak_rss_kb": memory_kb(proc.pid, "VmHWM"),
                    "throughput": r["throughput"],
                    "errors": r["errors"],
                    "p50_ms": r["p50_ms"],
                }
                print(
                    f"  rss {name}: idle {idle / 1024:.0f} MB, peak {out[name]['peak_rss_kb'] / 1024:.0f} MB,"
                    f" errors {r['errors']}",
                    flush=True,
                )
            self.results["rss"] = out
        finally:
            proxy.stop()
            if floor is not None:
                floor.stop()
            emulator.stop()

    def workers_phase(self) -> None:
        """`--workers 2` vs one worker on the small request, with the proxy the only significant CPU consumer.

        Upstream: nginx answering every call with a canned CompareFace reply (it checks no signature;
        the proxy still signs every v3 call). Load: wrk (C) sending the exact v1 compare_url request
        with one multi-use signature. Nothing pinned, so two workers can use both cores; per run:
        a request checked by hand, 1 s of warm-up, then the measured run. A run with any failed
        reply reports errors, not a throughput.
        """
        helptext = subprocess.run([V1PROXY, "serve", "--help"], capture_output=True, text=True, check=False).stdout
        if "--workers" not in helptext:
            self.notes.append("`v1proxy serve --workers` does not exist yet: the 2-worker row is skipped.")
            return
        if wrk_binary() is None:
            self.notes.append("wrk is not installed (apt-get install -y wrk): the --workers phase is skipped.")
            return
        w = next(x for x in workloads(self.images, self.static.url) if x.name == "compare_url")
        req = w.chains("workers", 1)[0][0]
        headers = {"Content-Type": req.v1_type, "Authorization": v1_authorization()}
        script = write_script(self.workdir.path / "wrk-compare.lua", method="POST", headers=headers, body=req.v1_body)
        canned = json.dumps(
            {"Response": {"Score": 88.5, "FaceModelVersion": "3.0", "RequestId": "bench-canned-0000"}},
            separators=(",", ":"),
        )
        connections, seconds = 64, max(1, round(self.seconds))
        try:
            upstream = start_canned_v3(self.workdir.path / "nginx-canned", free_port(), canned)
        except RuntimeError as exc:
            self.notes.append(f"the --workers phase is skipped: {exc}")
            return
        upstream_pids = [upstream.pid, *children(upstream.pid)]
        runs: dict[str, dict[str, Any]] = {}

        def check_by_hand(url: str) -> str | None:
            """None when the proxy answers the exact request with code 0, else what went wrong."""
            r = urllib.request.Request(f"{url}/face/{req.op}", data=req.v1_body, headers=headers, method="POST")  # noqa: S310
            try:
                with urllib.request.urlopen(r, timeout=30) as reply:  # noqa: S310 - local
                    body = json.loads(reply.read())
            except (OSError, ValueError) as exc:
                return f"the request by hand failed: {exc!r}"
            return None if body.get("code") == 0 else f"the request by hand got {json.dumps(body)[:300]}"

        def one(workers: int) -> dict[str, Any]:
            proxy = self.proxy(upstream.url, workers=workers, core=None, seed=False)
            try:
                pids = [proxy.pid, *children(proxy.pid)]
                if len(pids) != (1 if workers == 1 else workers + 1):
                    said = [x for x in proxy.log.read_text().splitlines() if "Error" in x or "failed to start" in x]
                    running = f"{len(pids) - 1} of {workers} worker processes running ({'; '.join(said[-2:])})"
                    return {"workers": workers, "throughput": None, "errors": 1, "error": running}
                problem = check_by_hand(proxy.url)
                if problem is not None:
                    return {"workers": workers, "throughput": None, "errors": 1, "error": problem}
                url = f"{proxy.url}/face/{req.op}"
                run_wrk(url, script, threads=1, connections=connections, seconds=1)  # warm-up
                cpu0, up0, busy0, t0 = cpu_of(pids), cpu_of(upstream_pids), machine_busy_seconds(), time.monotonic()
                r = run_wrk(url, script, threads=1, connections=connections, seconds=seconds)
                cpu1, up1, busy1, t1 = cpu_of(pids), cpu_of(upstream_pids), machine_busy_seconds(), time.monotonic()
            except RuntimeError as exc:
                return {"workers": workers, "throughput": None, "errors": 1, "error": str(exc)[-500:]}
            finally:
                proxy.stop()
            n, wall = max(1, r.requests), t1 - t0
            ours = (cpu1 - cpu0) + (up1 - up0) + r.cpu_seconds
            return {
                "workers": workers,
                "throughput": r.throughput if r.errors == 0 else None,
                "measured_req_s": r.throughput,
                "requests": r.requests,
                "seconds": r.seconds,
                "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms,
                "errors": r.errors,
                "non_2xx": r.non_2xx,
                "socket_errors": r.socket_errors,
                "bad_replies": r.bad_replies,
                "error": r.bad_sample or ("no request completed" if r.requests == 0 else None),
                "cpu_us_per_req": (cpu1 - cpu0) / n * 1e6,
                "upstream_cpu_us_per_req": (up1 - up0) / n * 1e6,
                "load_cpu_us_per_req": r.cpu_seconds / n * 1e6,
                "proxy_cores": (cpu1 - cpu0) / wall,  # how many cores the proxy kept busy
                "other_cores": max(0.0, (busy1 - busy0) - ours) / wall,  # anything else on the machine meanwhile
            }

        try:
            for workers in (1, 2):
                run = runs[str(workers)] = one(workers)
                if run["throughput"] is None:
                    print(f"  workers {workers}: ERRORS {run['errors']}: {run.get('error')}", flush=True)
                    self.notes.append(f"--workers {workers} run had errors ({run['errors']}): {run.get('error')}")
                else:
                    print(
                        f"  workers {workers}: {run['throughput']:.1f} req/s, p50 {run['p50_ms']:.2f} ms, proxy cpu/req"
                        f" {run['cpu_us_per_req']:.0f} µs (nginx {run['upstream_cpu_us_per_req']:.0f} µs,"
                        f" wrk {run['load_cpu_us_per_req']:.0f} µs), proxy on {run['proxy_cores']:.2f} cores,"
                        f" others on {run['other_cores']:.2f}, errors 0",
                        flush=True,
                    )
        finally:
            upstream.stop()
        one_thr, two_thr = runs["1"]["throughput"], runs["2"]["throughput"]
        self.results["workers"] = {
            "upstream": "nginx returning a canned CompareFace reply (no signature check; the proxy still signs)",
            "load": f"wrk -t1 -c{connections} -d{seconds}s after 1 s of warm-up",
            "workload": w.name,
            "1": one_thr,
            "2": two_thr,
            "ratio": two_thr / one_thr if one_thr and two_thr is not None else None,
            "cpu_us_per_req_1": runs["1"].get("cpu_us_per_req"),
            "cpu_us_per_req_2": runs["2"].get("cpu_us_per_req"),
            "errors": {k: v["errors"] for k, v in runs.items()},
            "runs": runs,
        }

    def profile_phase(self) -> None:
        pyspy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
        if not Path(pyspy).exists():
            self.notes.append("py-spy is not installed (pip install py-spy): no profile.")
            return
        w = next(x for x in workloads(self.images, self.static.url) if x.name == "compare_2x1m")
        emulator = self.emulator(0)
        proxy = self.proxy(emulator.url)
        try:
            raw = self.workdir.path / "profile.txt"
            seconds = 4 if self.quick else 10
            spy = subprocess.Popen(
                [
                    pyspy,
                    "record",
                    "--pid",
                    str(proxy.pid),
                    "--duration",
                    str(seconds),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "-o",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self.load(w, "proxy", proxy.url, [], mode="closed", concurrency=w.concurrency, seconds=seconds)
            _, err = spy.communicate(timeout=60)
            if not raw.exists():
                self.notes.append(f"py-spy failed: {err.decode()[-300:]}")
                return
            RESULTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(raw, RESULTS / "profile_compare_2x1m.txt")
            self.results["profile"] = report.summarize_profile(raw.read_text())
        finally:
            proxy.stop()
            emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs (~2 minutes): a smoke test")
    parser.add_argument("--seconds", type=float, help="seconds per measurement (default 6, --quick 1.5)")
    parser.add_argument("--only", action="append", default=[], help="only this workload (repeatable)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument(
        "--phase",
        action="append",
        choices=PHASES,
        default=[],
        help="only this phase (repeatable; default all): " + ", ".join(PHASES),
    )
    parser.add_argument("--backfill-faces", type=int, help="faces in the backfill phase (default 10000, --quick 1000)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, configs, bodies)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.md / latest.json go")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.5 if args.quick else 6.0)
    workdir = Workdir()
    started = time.time()
    print(
        f"v1proxy bench: {'quick' if args.quick else 'full'}, {seconds}s per measurement, work dir {workdir.path}"
        f", pinning {'on' if HAS_TASKSET else 'off'}",
        flush=True,
    )
    images = Images.make()
    static_dir = workdir.path / "static"
    workdir.write("static/a.jpg", images.small_a)
    workdir.write("static/b.jpg", images.small_b)
    port = free_port()
    static = start(
        "static",
        [PYTHON, "-m", "tests.bench.static", str(static_dir), str(port)],
        ready="listening on",
        workdir=workdir.path,
        core=CLIENT_CORE,
    )
    bench = Bench(
        quick=args.quick,
        seconds=seconds,
        workdir=workdir,
        images=images,
        static=static,
        only=set(args.only),
    )
    phases = set(args.phase or PHASES)
    if args.no_profile:
        phases.discard("profile")
    try:
        if "saturation" in phases:
            print("phase 1: emulator latency 0 ms", flush=True)
            bench.measure_phase(0, None, saturation=True)
        if "latency50" in phases:
            print("phase 2: emulator latency 50 ms", flush=True)
            bench.measure_phase(50, {"compare_url", "compare_2x1m"}, saturation=False)
        if "rss" in phases:
            print("phase 3: peak RSS, 256 in flight, 1 MB images, 200 ms upstream", flush=True)
            bench.rss_phase()
        if "workers" in phases:
            print("phase 4: --workers 2", flush=True)
            bench.workers_phase()
        if "profile" in phases:
            print("phase 5: py-spy profile of the proxy, compare 2 × 1 MB", flush=True)
            bench.profile_phase()
        if "backfill" in phases:
            faces = args.backfill_faces or (1_000 if args.quick else 10_000)
            print(f"phase 6: backfill of {faces} faces at --qps 50, SIGKILL + resume; dry-run peak RSS", flush=True)
            bench.results["backfill"] = backfill.backfill_phase(
                workdir.path, faces=faces, v3_call=v3_call, v3_id=V3_ID, v3_key=V3_KEY, notes=bench.notes
            )
        if "abuse" in phases:
            print("phase 7: abuse (slowloris + stalled uploads) and RSS after a burst of 5 MB uploads", flush=True)
            bench.results["abuse"] = abuse.abuse_phase(bench, v3_call)
        if "shadow" in phases:
            print("phase 8: shadow off vs on: the app's p50 and the proxy's CPU per request, same load", flush=True)
            bench.results["shadow"] = shadow.shadow_phase(workdir, seconds=seconds, quick=args.quick, notes=bench.notes)
        if "fleet" in phases:
            print("phase 9: fleet (PostgreSQL store: CPU vs SQLite, 2 processes' write mix, racing writes)", flush=True)
            bench.results["fleet"] = fleet.fleet_phase(bench, v3_call)
    finally:
        static.stop()
        if not args.keep:
            shutil.rmtree(workdir.path, ignore_errors=True)
    command = " ".join(["python -m tests.bench", *(sys.argv[1:] if argv is None else argv)])
    meta = {
        "command": command,
        "seconds": seconds,
        "quick": args.quick,
        "elapsed_s": round(time.time() - started),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "pinning": HAS_TASKSET,
        "python": sys.version.split()[0],
    }
    markdown = report.render(bench.results, bench.notes, meta)
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(markdown)
    (args.out / "latest.json").write_text(
        json.dumps({"meta": meta, "results": bench.results, "notes": bench.notes}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
