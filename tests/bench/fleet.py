"""`--phase fleet`: proxies on one PostgreSQL — scale-out of the write mix, store CPU cost, a racing write workload.

1. CPU per small request, SQLite store vs PostgreSQL store: `getinfo` (one small JSON request that
   reads the store twice — the open-journal check and the person row — and makes two v3 calls).
   Both proxies on core 0, the emulator and the load generator on core 1, closed loop; the rounds
   alternate and each store's lowest CPU per request is kept (interference only adds).
2. Write-mix throughput (newperson → addface → delperson), one proxy process vs two, both on one
   PostgreSQL schema, nothing pinned: two processes need both cores. Measured 1, 2, then 1 again
   (the baseline is the mean of the two single runs: the machine is shared). The cores each part
   kept busy are printed: the emulator is one Python process, so when it nears a full core it is
   the limit, not the proxies — said on the line; the same when the 2 cores are all busy.
3. Racing writes: the same two processes, 32 clients each. First every client sends newperson for
   the same ids at once (exactly one must win each id); then, for `seconds`, each client adds a face
   to a person it shares with clients of the other process and deletes it again. Afterwards v3
   (the emulator, asked directly) and the PostgreSQL store are compared with what the clients were
   told: a face acknowledged and not deleted that v3 or the store lacks is lost; a face v3 or the
   store holds that no client was given (or a person created twice: two different enrolment faces)
   is duplicated. An identical newperson arriving after one was applied may be answered 0 again with
   the same face (the proxy's answer to a retry whose reply was lost): counted, not a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import subprocess
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg

from proxy.emulator.facemodel import FaceModel
from proxy.emulator.models import NEAR_DUPLICATE_SCORE
from proxy.emulator.synthetic import subject_photo
from proxy.translate.scope import Scope
from tests.bench.harness import (
    CLIENT_CORE,
    PYTHON,
    REPO,
    SERVER_CORE,
    V1PROXY,
    Proc,
    cpu_of,
    free_port,
    start,
)
from tests.bench.workloads import (
    APPID,
    BUCKET,
    LEGACY_ID,
    LEGACY_KEY,
    V3_ID,
    V3_KEY,
    Request,
    Workload,
    request,
    v1_authorization,
    v1_form,
    v1_json,
    workloads,
)
from tests.bench.wrk import machine_busy_seconds

if TYPE_CHECKING:
    from tests.bench.__main__ import Bench

POSTGRES_ENV = "V1PROXY_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
THROUGHPUT_TARGET = 1.7  # two processes' write-mix throughput >= 1.7 x one
CPU_TARGET = 1.2  # PostgreSQL store CPU per small request <= 1.2 x SQLite's
SMALL_CONCURRENCY = 32
EMULATOR_LIMIT_CORES = 0.85  # the emulator (one process) this busy: it, not the proxies, set the pace
MACHINE_LIMIT_CORES = 1.85  # of 2: every core busy
RACE_CLIENTS = 32  # per process
RACE_PERSONS = 16  # each shared by 4 clients, 2 on each process: at most 1 + 4 faces (v3 keeps 5)
RACE_GROUP = "fleet_race"
ADMISSION = 60.0  # CreateFace's default FaceMatchThreshold in the emulator

V3Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]


# -- processes ---------------------------------------------------------------------------------
def postgres_url() -> str:
    return os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES


async def _schema(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Schema:
    """A PostgreSQL schema of this run's own (dropped at the end: others use the same server)."""

    server: str
    name: str = field(default_factory=lambda: f"v1p_bench_{secrets.token_hex(5)}")

    @property
    def url(self) -> str:
        return f"{self.server}{'&' if '?' in self.server else '?'}search_path={self.name}"

    def create(self) -> None:
        asyncio.run(_schema(self.server, f'CREATE SCHEMA "{self.name}"'))

    def drop(self) -> None:
        asyncio.run(_schema(self.server, f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))


def start_emulator(bench: Bench, name: str, core: str | None) -> Proc:
    return start(
        name,
        [V1PROXY, "emulator", "--host", "127.0.0.1", "--port", "0", "--secret-id", V3_ID, "--secret-key", V3_KEY],
        ready="listening on",
        workdir=bench.workdir.path,
        core=core,
    )


def start_proxy(bench: Bench, name: str, upstream: str, store: dict[str, Any], core: str | None) -> Proc:
    port = free_port()
    config = bench.workdir.write(
        f"{name}.yaml",
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
                "store": store,
                "limits": {"quota_qps": 0},  # the proxy and its store are measured, not v3's contract
                "admin": {"host": "127.0.0.1", "port": free_port()},
                "logging": {"format": "json", "level": "info"},  # as deployed: one access-log line per request
            }
        ).encode(),
    )
    proc = start(
        name, [V1PROXY, "serve", "--config", str(config)], ready="listening on", workdir=bench.workdir.path, core=core
    )
    proc.url = f"http://127.0.0.1:{port}"
    return proc


def v1_post(url: str, req: Request) -> dict[str, Any]:
    headers = {"Authorization": v1_authorization(), "Content-Type": req.v1_type}
    r = urllib.request.Request(f"{url}/face/{req.op}", data=req.v1_body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(r, timeout=60) as reply:  # noqa: S310 - local
        return dict(json.loads(reply.read()))


def newperson(person: str, group: str, photo: bytes) -> Request:
    return request("newperson", v1_form([("person_id", person), ("group_ids[0]", group), ("image", photo)]), "", {})


# -- 1. CPU per small request: SQLite vs PostgreSQL --------------------------------------------
def always(req: Request) -> Callable[[str, int], list[list[Request]]]:
    return lambda _tag, _n: [[req]]


def cpu_part(bench: Bench, server: str) -> dict[str, Any]:
    emulator = start_emulator(bench, "fleet-emulator-cpu", CLIENT_CORE)
    schema = Schema(server)
    schema.create()
    procs: dict[str, Proc] = {}
    try:
        stores = {
            "sqlite": {"url": f"sqlite:///{bench.workdir.path / 'fleet-cpu.db'}"},
            "postgresql": {"url": schema.url},
        }
        for name, store in stores.items():
            procs[name] = start_proxy(bench, f"fleet-{name}", emulator.url, store, SERVER_CORE)
        small: dict[str, Workload] = {}
        for name, proc in procs.items():
            person = f"fleet_cpu_{name}"
            reply = v1_post(proc.url, newperson(person, "fleet_cpu", bench.images.enrol[0]))
            if reply.get("code") != 0:
                raise RuntimeError(f"seeding {name} failed: {reply}")
            getinfo = request("getinfo", v1_json({"person_id": person}), "", {})
            small[name] = Workload("getinfo", "getinfo", True, SMALL_CONCURRENCY, always(getinfo), 0)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in procs}
        for _round in range(2):
            for name, proc in procs.items():
                r = bench.load(small[name], "proxy", proc.url, [proc.pid], mode="closed", concurrency=SMALL_CONCURRENCY)
                runs[name].append(r)
                print(
                    f"  fleet cpu: {name:10} getinfo {r['throughput']:7.1f} req/s, cpu/req "
                    f"{r['cpu_us_per_req']:6.0f} µs, errors {r['errors']}",
                    flush=True,
                )
    finally:
        for p in procs.values():
            p.stop()
        emulator.stop()
        schema.drop()
    best = {name: min(r["cpu_us_per_req"] for r in rs) for name, rs in runs.items()}
    return {
        "request": "getinfo (small JSON; reads the store twice, two v3 calls)",
        "concurrency": SMALL_CONCURRENCY,
        "cpu_us_per_req": best,
        "ratio": best["postgresql"] / best["sqlite"] if best["sqlite"] else None,
        "errors": {name: sum(r["errors"] for r in rs) for name, rs in runs.items()},
        "runs": runs,
    }


# -- 2. write-mix throughput: one process vs two on one PostgreSQL ------------------------------
def run_unpinned_loadgen(spec: dict[str, Any], bench: Bench) -> tuple[dict[str, Any], float]:
    """The load generator on no particular core (the proxies need both); its result and its CPU seconds."""
    path = bench.workdir.path / "fleet-loadgen-spec.json"
    path.write_text(json.dumps(spec))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [PYTHON, "-m", "tests.bench.loadgen", str(path)],
        capture_output=True,
        cwd=REPO,
        check=False,
        timeout=float(spec["seconds"]) + float(spec["warmup"]) + 120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1])), cpu


def write_mix_run(bench: Bench, w: Workload, proxies: list[Proc], emulator: Proc) -> dict[str, Any]:
    per_proxy = [bench.chains(w, "proxy", p.url, w.concurrency) for p in proxies]
    chains = [chain for group in zip(*per_proxy, strict=True) for chain in group]  # alternate the proxies
    spec = {
        "mode": "closed",
        "chains": chains,
        "concurrency": len(chains),
        "rate": 0.0,
        "seconds": bench.seconds,
        "warmup": 0.3 if bench.quick else 1.0,
    }
    pids = [p.pid for p in proxies]
    cpu0, emu0, busy0, t0 = cpu_of(pids), cpu_of([emulator.pid]), machine_busy_seconds(), time.monotonic()
    result, load_cpu = run_unpinned_loadgen(spec, bench)
    cpu1, emu1, busy1, t1 = cpu_of(pids), cpu_of([emulator.pid]), machine_busy_seconds(), time.monotonic()
    wall, n = t1 - t0, max(1, result["total"])
    proxy_cpu, emu_cpu = cpu1 - cpu0, emu1 - emu0
    return {
        "processes": len(proxies),
        "clients": len(chains),
        "throughput": result["throughput"],
        "errors": result["errors"],
        "error_samples": result["error_samples"],
        "p50_ms": result["p50_ms"],
        "proxy_cpu_us_per_req": proxy_cpu / n * 1e6,
        "emulator_cpu_us_per_req": emu_cpu / n * 1e6,
        "cores": {
            "proxies": proxy_cpu / wall,
            "emulator": emu_cpu / wall,
            "loadgen": load_cpu / wall,
            "other": max(0.0, (busy1 - busy0) - proxy_cpu - emu_cpu - load_cpu) / wall,  # PostgreSQL + the rest
            "machine": (busy1 - busy0) / wall,
        },
    }


def limited_by(run: dict[str, Any]) -> str | None:
    cores = run["cores"]
    if cores["emulator"] >= EMULATOR_LIMIT_CORES:
        return f"the emulator (one process, {cores['emulator']:.2f} cores busy)"
    if cores["machine"] >= MACHINE_LIMIT_CORES:
        return f"the machine (all 2 cores busy: {cores['machine']:.2f})"
    return None


def print_run(label: str, run: dict[str, Any]) -> None:
    c = run["cores"]
    print(
        f"  fleet write mix, {label}: {run['throughput']:7.1f} req/s, {run['clients']} clients, errors "
        f"{run['errors']}; proxy cpu/req {run['proxy_cpu_us_per_req']:.0f} µs, emulator "
        f"{run['emulator_cpu_us_per_req']:.0f} µs; cores: proxies {c['proxies']:.2f}, emulator {c['emulator']:.2f},"
        f" loadgen {c['loadgen']:.2f}, other (PostgreSQL + rest of machine) {c['other']:.2f}",
        flush=True,
    )


def throughput_part(bench: Bench, emulator: Proc, proxies: list[Proc]) -> dict[str, Any]:
    w = next(x for x in workloads(bench.images, bench.static.url) if x.name == "write_mix")
    runs = []
    for count in (1, 2, 1):
        run = write_mix_run(bench, w, proxies[:count], emulator)
        print_run(f"{count} process{'es' if count > 1 else ''}", run)
        runs.append(run)
    one = (runs[0]["throughput"] + runs[2]["throughput"]) / 2
    two = runs[1]["throughput"]
    emu_us = runs[1]["emulator_cpu_us_per_req"]
    return {
        "workload": w.title,
        "one": one,
        "two": two,
        "ratio": two / one if one else None,
        "errors": sum(r["errors"] for r in runs),
        "limited_by": limited_by(runs[1]),
        # what one emulator core could carry of this mix (its own CPU per proxied request)
        "emulator_ceiling": 1e6 / emu_us if emu_us else None,
        "proxy_cpu_ratio": runs[1]["proxy_cpu_us_per_req"]
        / ((runs[0]["proxy_cpu_us_per_req"] + runs[2]["proxy_cpu_us_per_req"]) / 2),
        "runs": runs,
    }


# -- 3. racing writes on overlapping persons ----------------------------------------------------
def race_subjects(count: int) -> list[int]:
    """Synthetic subjects whose photos 0..4 all match each other (the emulator admits every one as a face)."""
    model = FaceModel()
    kept: list[int] = []
    subject = 0
    while len(kept) < count:
        faces = [model.analyze(subject_photo(subject, n)).faces[0] for n in range(5)]
        scores = [FaceModel.score(a, b) for i, a in enumerate(faces) for b in faces[i + 1 :]]
        if min(scores) >= ADMISSION and max(scores) < NEAR_DUPLICATE_SCORE:
            kept.append(subject)
        subject += 1
    return kept


@dataclass
class Ledger:
    """What the racing clients were told."""

    created: Counter[str] = field(default_factory=Counter)  # person -> newperson answered 0
    # person -> the face ids newperson answered 0 with: one id, however many 0s (an applied attempt's
    # identical retry is answered 0 again with the same face: idempotent, not a second person)
    enrolled: dict[str, set[str]] = field(default_factory=dict)
    added: dict[str, set[str]] = field(default_factory=dict)  # person -> face ids addface answered
    deleted: dict[str, set[str]] = field(default_factory=dict)
    codes: Counter[str] = field(default_factory=Counter)  # "op:code"

    def expected(self, person: str) -> set[str]:
        return (self.enrolled.get(person, set()) | self.added.get(person, set())) - self.deleted.get(person, set())


async def race_clients(urls: list[str], persons: list[str], photos: dict[str, list[bytes]], seconds: float) -> Ledger:
    ledger = Ledger()
    auth = v1_authorization()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def call(url: str, req: Request) -> dict[str, Any]:
            headers = {"Authorization": auth, "Content-Type": req.v1_type}
            try:
                async with session.post(f"{url}/face/{req.op}", data=req.v1_body, headers=headers) as response:
                    reply = json.loads(await response.read())
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                reply = {"code": type(exc).__name__}
            ledger.codes[f"{req.op}:{reply.get('code')}"] += 1
            return dict(reply)

        clients = [
            (urls[(c // len(persons)) % len(urls)], persons[c % len(persons)], c)
            for c in range(RACE_CLIENTS * len(urls))
        ]

        async def create(url: str, person: str) -> None:
            reply = await call(url, newperson(person, RACE_GROUP, photos[person][0]))
            if reply.get("code") == 0:
                ledger.created[person] += 1
                ledger.enrolled.setdefault(person, set()).add(reply["data"]["face_id"])

        for person in persons:  # every client at once on the same id, half of them through each process
            await asyncio.gather(*(create(url, person) for url, _, _ in clients))

        deadline = time.monotonic() + seconds

        async def churn(url: str, person: str, client: int) -> None:
            photo = photos[person][1 + (client // len(persons)) % 4]
            held: str | None = None
            while time.monotonic() < deadline:
                if held is None:
                    added = v1_form([("person_id", person), ("images[0]", photo)])
                    reply = await call(url, request("addface", added, "", {}))
                    if reply.get("code") == 0:
                        ids = [
                            f
                            for f, rc in zip(reply["data"]["face_ids"], reply["data"]["ret_codes"], strict=True)
                            if rc == 0 and f
                        ]
                        ledger.added.setdefault(person, set()).update(ids)
                        held = ids[0] if ids else None
                else:
                    gone = v1_json({"person_id": person, "face_ids": [held]})
                    reply = await call(url, request("delface", gone, "", {}))
                    if reply.get("code") == 0:
                        ledger.deleted.setdefault(person, set()).add(held)
                        held = None

        await asyncio.gather(*(churn(url, person, c) for url, person, c in clients))
    return ledger


async def store_faces(url: str, persons: list[str]) -> tuple[set[str], dict[str, set[str]]]:
    """The persons and their face ids in the PostgreSQL store (the v1 side of every replica)."""
    namespace = Scope.of(APPID, BUCKET).store_key
    conn = await asyncpg.connect(url, timeout=5)
    try:
        known = {
            r[0]
            for r in await conn.fetch(
                "SELECT person_id FROM person WHERE namespace = $1 AND person_id = ANY($2::text[])", namespace, persons
            )
        }
        faces: dict[str, set[str]] = {}
        for r in await conn.fetch(
            "SELECT person_id, face_id FROM face WHERE namespace = $1 AND person_id = ANY($2::text[])",
            namespace,
            persons,
        ):
            faces.setdefault(r[0], set()).add(r[1])
    finally:
        await conn.close()
    return known, faces


def race_part(bench: Bench, emulator: Proc, proxies: list[Proc], schema: Schema, v3_call: V3Call) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    persons = [f"race_{tag}_{i}" for i in range(RACE_PERSONS)]
    photos = {
        p: [subject_photo(subject, n) for n in range(5)]
        for p, subject in zip(persons, race_subjects(RACE_PERSONS), strict=True)
    }
    started = time.monotonic()
    ledger = asyncio.run(race_clients([p.url for p in proxies], persons, photos, max(2.0, bench.seconds)))
    elapsed = time.monotonic() - started
    scope = Scope.of(APPID, BUCKET)
    in_v3: dict[str, set[str]] = {}
    for person in persons:
        reply = v3_call(emulator.url, "GetPersonBaseInfo", {"PersonId": scope.v3_id(person)})
        if "Error" not in reply:
            in_v3[person] = set(reply.get("FaceIds") or [])
    known, in_store = asyncio.run(store_faces(schema.url, persons))
    lost = duplicated = 0
    for person in persons:
        expected, v3, stored = ledger.expected(person), in_v3.get(person, set()), in_store.get(person, set())
        lost += len(expected - v3) + len(expected - stored)
        duplicated += len(v3 - expected) + len(stored - expected)
    created_twice = sum(max(0, len(ids) - 1) for ids in ledger.enrolled.values())  # two different faces
    never_created = sum(1 for p in persons if ledger.created[p] == 0)
    person_mismatch = len(set(in_v3) ^ known)  # a person v3 holds and the store does not, or the reverse
    result = {
        "processes": len(proxies),
        "clients_per_process": RACE_CLIENTS,
        "persons": RACE_PERSONS,
        "seconds": round(elapsed, 1),
        "requests": sum(ledger.codes.values()),
        "codes": dict(sorted(ledger.codes.items())),
        "faces_acknowledged": sum(len(s) for s in ledger.added.values()),
        "deletes_acknowledged": sum(len(s) for s in ledger.deleted.values()),
        "faces_left": sum(len(v) for v in in_v3.values()),
        "lost": lost,
        "duplicated": duplicated + created_twice,
        "created_twice": created_twice,
        "newperson_answered_0": sum(ledger.created.values()),
        "never_created": never_created,
        "person_mismatch": person_mismatch,
    }
    print(
        f"  fleet race: {result['requests']} requests in {elapsed:.1f} s, {result['faces_acknowledged']} faces added "
        f"and {result['deletes_acknowledged']} deleted as acknowledged; lost {lost}, duplicated "
        f"{result['duplicated']}, persons created twice {created_twice}, store/v3 person mismatch "
        f"{person_mismatch}; codes {result['codes']}",
        flush=True,
    )
    return result


# -- the phase ------------------------------------------------------------------------------------
async def _reachable(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except Exception as exc:  # any failure: the phase says why it is skipped
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def fleet_phase(bench: Bench, v3_call: V3Call) -> dict[str, Any]:
    server = postgres_url()
    problem = asyncio.run(_reachable(server))
    if problem is not None:
        bench.notes.append(f"fleet phase skipped: PostgreSQL at {server} ({POSTGRES_ENV}) unreachable: {problem}")
        return {"skipped": problem}
    out: dict[str, Any] = {"postgres": server.split("@")[-1], "load_before": os.getloadavg()[0]}
    out["cpu"] = cpu_part(bench, server)
    emulator = start_emulator(bench, "fleet-emulator", None)
    schema = Schema(server)
    schema.create()
    proxies: list[Proc] = []
    try:
        store = {"url": schema.url, "pool_min": 2, "pool_max": 10}
        for i in range(2):
            proxies.append(start_proxy(bench, f"fleet-proxy{i}", emulator.url, store, None))
        out["throughput"] = throughput_part(bench, emulator, proxies)
        out["race"] = race_part(bench, emulator, proxies, schema, v3_call)
    finally:
        for p in proxies:
            p.stop()
        emulator.stop()
        schema.drop()
    out["load_after"] = os.getloadavg()[0]
    for line in target_lines(out):
        print(" ", line, flush=True)
    return out


def target_lines(entry: dict[str, Any]) -> list[str]:
    if "skipped" in entry:
        return [f"- fleet: NOT measured (PostgreSQL unreachable: {entry['skipped']})"]
    load = f"load average {entry['load_before']:.1f} before, {entry['load_after']:.1f} after, 2 cores"
    cpu = entry["cpu"]
    r = cpu["ratio"]
    us = cpu["cpu_us_per_req"]
    lines = [
        f"- fleet: small-request CPU with the PostgreSQL store {us['postgresql']:.0f} µs vs SQLite {us['sqlite']:.0f} "
        f"µs per {cpu['request']}: {r:.2f}× (target ≤ {CPU_TARGET}×): "
        f"{'met' if r <= CPU_TARGET and not any(cpu['errors'].values()) else 'NOT met'} "
        f"(errors {cpu['errors']}; {load})"
    ]
    t = entry["throughput"]
    ratio = t["ratio"] or 0.0
    cores = t["runs"][1]["cores"]
    why = f"; limited by {t['limited_by']}" if t["limited_by"] else ""
    lines.append(
        f"- fleet: write-mix throughput, 2 processes on one PostgreSQL {t['two']:.1f} req/s vs 1 process "
        f"{t['one']:.1f} req/s: {ratio:.2f}× (target ≥ {THROUGHPUT_TARGET}×): "
        f"{'met' if ratio >= THROUGHPUT_TARGET and not t['errors'] else 'NOT met'}{why} "
        f"(errors {t['errors']}; with 2 processes the cores went to proxies {cores['proxies']:.2f}, emulator "
        f"{cores['emulator']:.2f}, load generator {cores['loadgen']:.2f}, PostgreSQL + the rest {cores['other']:.2f}; "
        f"emulator ceiling for this mix ≈ {t['emulator_ceiling'] or 0:.0f} req/s on one core; proxy CPU per request "
        f"2 processes / 1 = {t['proxy_cpu_ratio']:.2f} (≈ 1: no contention between them), so with a core per "
        f"process and an upstream that keeps up two would give ≈ {2 / t['proxy_cpu_ratio']:.2f}× — a projection, "
        "not the target's figure)"
    )
    race = entry["race"]
    ok = race["lost"] == 0 and race["duplicated"] == 0 and race["person_mismatch"] == 0 and not race["never_created"]
    lines.append(
        f"- fleet: racing writes, {race['processes']} processes × {race['clients_per_process']} clients on "
        f"{race['persons']} shared persons ({race['requests']} requests, {race['faces_acknowledged']} faces added, "
        f"{race['deletes_acknowledged']} deleted): lost {race['lost']}, duplicated {race['duplicated']} "
        f"(persons created twice {race['created_twice']}; newperson answered 0 {race['newperson_answered_0']} times "
        f"for {race['persons']} ids, repeats with the same face), store/v3 person mismatch {race['person_mismatch']} "
        f"(target 0): {'met' if ok else 'NOT met'}"
    )
    return lines
