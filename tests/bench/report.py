"""The benchmark's markdown: headline ratios, targets met or not, absolute figures, the profile's top costs."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from tests.bench import abuse, backfill, fleet, shadow

CPU_TARGET = 1.5  # proxy CPU per request <= 1.5 x floor
ADDED_P50_MS = {"compare_url": 1.0, "compare_2x1m": 6.0}
WORKERS_TARGET = 1.7
SHARED_CORES = 0.15  # other processes busier than this during a --workers run make its ratio unreliable


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f}"


def get(entry: dict[str, Any], path: str, phase: str, key: str) -> float | None:
    value = entry.get(path, {}).get(phase, {}).get(key)
    return float(value) if value is not None else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def errors(entry: dict[str, Any]) -> str:
    found = {
        p: entry[p][ph]["errors"]
        for p in ("direct", "nginx", "floor", "proxy")
        if p in entry
        for ph in ("saturation", "half")
        if ph in entry[p] and entry[p][ph]["errors"]
    }
    return ", ".join(f"{p} {n}" for p, n in found.items()) or "0"


def render(results: dict[str, Any], notes: list[str], meta: dict[str, Any]) -> str:
    lines = [
        f"# v1proxy benchmark — {meta['date']}",
        "",
        f"Command: `.venv/bin/{meta['command']}` ({meta['elapsed_s']} s; {meta['seconds']} s per measurement; "
        f"Python {meta['python']}; servers on core 0, emulator + load generator on core 1: "
        f"{'pinned' if meta['pinning'] else 'NOT pinned'}).",
        "",
        "Paths: **direct** = v3 straight to the emulator; **nginx** = the same v3 requests through nginx; "
        "**floor** = minimal aiohttp hop (read body, TC3-sign a v3-sized body, one upstream call); "
        "**proxy** = the v1 request through v1proxy. CPU is the server process's own utime+stime per request.",
        "",
        "## Headline (emulator at 0 ms; ratios are what to read, absolutes are noisy)",
        "",
        "| workload | proxy CPU / floor | proxy CPU µs/req | floor CPU µs/req | nginx CPU µs/req "
        "| proxy thr / direct | proxy thr / nginx | added p50 vs direct (ms) | nginx added p50 (ms) | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = {k: v for k, v in results.items() if k.endswith("@0")}
    for entry in base.values():
        pc = get(entry, "proxy", "saturation", "cpu_us_per_req")
        fc = get(entry, "floor", "saturation", "cpu_us_per_req")
        nc = get(entry, "nginx", "saturation", "cpu_us_per_req")
        pt = get(entry, "proxy", "saturation", "throughput")
        dt = get(entry, "direct", "saturation", "throughput")
        nt = get(entry, "nginx", "saturation", "throughput")
        p50 = {p: get(entry, p, "half", "p50_ms") for p in ("direct", "nginx", "proxy")}
        added = p50["proxy"] - p50["direct"] if p50["proxy"] is not None and p50["direct"] is not None else None
        nadded = p50["nginx"] - p50["direct"] if p50["nginx"] is not None and p50["direct"] is not None else None
        lines.append(
            f"| {entry['title']} | **{fmt(ratio(pc, fc), 2)}×** | {fmt(pc, 0)} | {fmt(fc, 0)} | {fmt(nc, 0)} "
            f"| {fmt(ratio(pt, dt), 2)} | {fmt(ratio(pt, nt), 2)} | **{fmt(added, 2)}** | {fmt(nadded, 2)} "
            f"| {errors(entry)} |"
        )
    lines += [
        "",
        "## Absolute figures",
        "",
        "| workload | upstream | path | saturation req/s | offered req/s | p50 ms | p99 ms | CPU µs/req |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in results.values():
        if "workload" not in entry:
            continue
        for path in ("direct", "nginx", "floor", "proxy"):
            if path not in entry:
                continue
            lines.append(
                f"| {entry['workload']} | {entry['latency_ms']} ms | {path} "
                f"| {fmt(get(entry, path, 'saturation', 'throughput'))} | {fmt(entry.get('half_rate'))} "
                f"| {fmt(get(entry, path, 'half', 'p50_ms'), 2)} | {fmt(get(entry, path, 'half', 'p99_ms'), 2)} "
                f"| {fmt(get(entry, path, 'saturation', 'cpu_us_per_req'), 0)} |"
            )
    lines += ["", "## Targets", ""]
    lines += targets(results)
    profile = results.get("profile")
    if profile:
        lines += [
            "",
            f"## Proxy profile, compare 2 × 1 MB ({profile['samples']} py-spy samples)",
            "",
            "| self % | function |",
            "|---|---|",
        ]
        lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["self"]]
        lines += ["", "| inclusive % | function |", "|---|---|"]
        lines += [f"| {pct:.1f} | `{name}` |" for name, pct in profile["inclusive"]]
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def targets(results: dict[str, Any]) -> list[str]:
    out = []
    for name in ("compare_url", "compare_2x1m"):
        entry = results.get(f"{name}@0")
        if not entry:
            continue
        r = ratio(
            get(entry, "proxy", "saturation", "cpu_us_per_req"), get(entry, "floor", "saturation", "cpu_us_per_req")
        )
        if r is not None:
            out.append(
                f"- {name}: proxy CPU {r:.2f}× floor (target ≤ {CPU_TARGET}×): "
                f"{'met' if r <= CPU_TARGET else 'NOT met'}"
            )
        for latency in (0, 50):
            e = results.get(f"{name}@{latency}")
            if not e:
                continue
            p, d = get(e, "proxy", "half", "p50_ms"), get(e, "direct", "half", "p50_ms")
            if p is not None and d is not None:
                added, limit = p - d, ADDED_P50_MS[name]
                out.append(
                    f"- {name} @ {latency} ms upstream: added p50 {added:.2f} ms at {fmt(e.get('half_rate'))} req/s "
                    f"(target ≤ {limit} ms): {'met' if added <= limit else 'NOT met'}"
                )
    rss = results.get("rss")
    if rss and "proxy" in rss:
        in_flight = rss["in_flight"] * rss["image_bytes"]
        limit_mb = 80 + 3 * in_flight / 2**20
        peak_mb = rss["proxy"]["peak_rss_kb"] / 1024
        floor_mb = rss.get("floor", {}).get("peak_rss_kb", 0) / 1024
        out.append(
            f"- peak RSS, {rss['in_flight']} in flight × {rss['image_bytes'] / 1e6:.2f} MB image, "
            f"{rss['upstream_latency_ms']} ms upstream: proxy {peak_mb:.0f} MB (idle "
            f"{rss['proxy']['idle_rss_kb'] / 1024:.0f} MB; floor {floor_mb:.0f} MB) vs target ≤ "
            f"{limit_mb:.0f} MB: {'met' if peak_mb <= limit_mb else 'NOT met'} "
            f"(errors: proxy {rss['proxy']['errors']}, floor {rss.get('floor', {}).get('errors', '—')})"
        )
    workers = results.get("workers")
    if workers:
        out.append(workers_line(workers))
    if results.get("backfill"):
        out += backfill.target_lines(results["backfill"])
    if results.get("abuse"):
        out += abuse.target_lines(results["abuse"])
    if results.get("shadow"):
        out += shadow.target_lines(results["shadow"])
    if results.get("fleet"):
        out += fleet.target_lines(results["fleet"])
    return out


def workers_line(workers: dict[str, Any]) -> str:
    """The --workers target: the 2-worker / 1-worker throughput ratio, the runs, how they were measured."""
    runs = workers.get("runs", {})
    figures = []
    for n in ("1", "2"):
        run = runs.get(n, {})
        carried = f"{run['errors']} ERRORS" if run.get("errors") else f"{fmt(run.get('throughput'))} req/s"
        figures.append(
            f"{n} worker{'s' if n != '1' else ''}: {carried}, proxy {fmt(run.get('cpu_us_per_req'), 0)} µs/req "
            f"(nginx {fmt(run.get('upstream_cpu_us_per_req'), 0)}, wrk {fmt(run.get('load_cpu_us_per_req'), 0)}) "
            f"on {fmt(run.get('proxy_cores'), 2)} cores, other processes on {fmt(run.get('other_cores'), 2)}"
        )
    how = (
        "; ".join(figures) + " — proxy CPU summed over its processes. Measured on "
        f"{workers.get('workload', 'compare_url')}: {workers.get('load', '?')} against "
        f"{workers.get('upstream', '?')}, nothing pinned; nginx and wrk cost what is in brackets, so the proxy "
        "is the measurement's only significant CPU consumer."
    )
    failed = {n: r for n, r in runs.items() if r.get("errors")}
    if failed:
        which = ", ".join(
            f"{n} worker(s): {r['errors']} errors ({r.get('error') or 'see notes'})" for n, r in failed.items()
        )
        return f"- --workers 2: NOT measured, runs with errors: {which}. {how}"
    r = workers.get("ratio")
    if r is None:
        return f"- --workers 2: NOT measured. {how}"
    others = max(float(run.get("other_cores") or 0.0) for run in runs.values()) if runs else 0.0
    shared = (
        f" **Unreliable: other processes took up to {others:.2f} of the 2 cores during these runs.**"
        if others > SHARED_CORES
        else ""
    )
    return (
        f"- --workers 2: {r:.2f}× one worker's small-request throughput (target ≥ {WORKERS_TARGET}×): "
        f"{'met' if r >= WORKERS_TARGET else 'NOT met'}.{shared} {how}"
    )


def frame_name(frame: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`: lines vary, the function is what matters."""
    if " (" in frame and frame.endswith(")"):
        func, where = frame[:-1].split(" (", 1)
        file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
        return f"{func} ({file})"
    return frame


def summarize_profile(raw: str, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares of py-spy's collapsed stacks (`f1;f2;f3 count` per line)."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            frame_name(f) for f in stack.split(";") if not f.startswith("process ") and not f.startswith("thread ")
        ]
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] += count
        for name in set(frames):
            incl_counts[name] += count
    if not total:
        return {"samples": 0, "self": [], "inclusive": []}
    return {
        "samples": total,
        "self": [(n, 100 * c / total) for n, c in self_counts.most_common(top)],
        "inclusive": [(n, 100 * c / total) for n, c in incl_counts.most_common(top + 10)],
    }
