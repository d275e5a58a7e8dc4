"""The migration report as one self-contained HTML page: inline CSS and SVG, no script, no network."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from html import escape

from proxy.calibrate.fit import Point
from proxy.migration.routes import WRITE_OPS
from proxy.report.model import Agreement, OpRow, Report, Scatter

BAR_FLOOR = 0.9  # agreement bars span 90 %…100 %: the interesting part; lower rates sit at the left edge

CSS = """
:root { --ink:#1f2933; --muted:#66788a; --line:#e4e7eb; --bg:#f7f8fa; --card:#fff; --ok:#1b873f;
  --okbg:#e3f6e8; --warn:#b25e09; --warnbg:#fff1dc; --bad:#c0362c; --v3:#2f6fde; --v1:#8a5cf5; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:linear-gradient(120deg,#17324d,#2f6fde); color:#fff; padding:28px 40px 24px; }
header h1 { margin:0 0 4px; font-size:24px; font-weight:650; letter-spacing:.2px; }
header p { margin:0; opacity:.85; }
.pills { display:flex; gap:12px; margin-top:18px; flex-wrap:wrap; }
.pill { background:rgba(255,255,255,.14); border-radius:10px; padding:10px 16px; min-width:150px; }
.pill b { display:block; font-size:22px; }
.pill span { font-size:12px; opacity:.85; text-transform:uppercase; letter-spacing:.6px; }
main { padding:24px 40px 40px; max-width:1280px; }
section { background:var(--card); border:1px solid var(--line); border-radius:12px; padding:20px 24px;
  margin-bottom:22px; box-shadow:0 1px 2px rgba(16,24,40,.04); }
h2 { margin:0 0 4px; font-size:17px; }
.sub { color:var(--muted); margin:0 0 14px; font-size:13px; }
table { border-collapse:collapse; width:100%; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.5px; border-bottom:1px solid var(--line); padding:8px 10px; }
td { border-bottom:1px solid var(--line); padding:9px 10px; vertical-align:middle; }
tr:last-child td { border-bottom:none; }
td.num { font-variant-numeric:tabular-nums; text-align:right; white-space:nowrap; }
.mono { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; }
.badge { display:inline-block; border-radius:999px; padding:3px 10px; font-size:12px; font-weight:600; }
.ready, .drained { background:var(--okbg); color:var(--ok); }
.blocked, .owed { background:var(--warnbg); color:var(--warn); }
.why { color:var(--muted); font-size:12px; margin-top:3px; }
.kinds span { display:inline-block; background:#eef2f7; border-radius:6px; padding:1px 7px; margin:1px 3px 1px 0;
  font-size:12px; }
.ci { color:var(--muted); font-size:12px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(340px, 1fr)); gap:18px; }
.plot h3 { margin:0 0 6px; font-size:14px; }
.legend { font-size:12px; color:var(--muted); display:flex; gap:14px; flex-wrap:wrap; margin-top:4px; }
.legend i { display:inline-block; width:18px; height:0; border-top:2px solid; vertical-align:middle;
  margin-right:4px; }
.empty { color:var(--muted); font-style:italic; }
footer { color:var(--muted); font-size:12px; padding:0 40px 30px; }
"""


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return "> 10 s" if value == float("inf") else f"≤ {value:g} ms"


def _bar(agreement: Agreement, target: float) -> str:
    """A small SVG: the Wilson interval as a band, the rate as a dot, the readiness target as a tick."""
    width, height = 160, 18

    def x(share: float) -> float:
        return round(4 + (width - 8) * (max(share, BAR_FLOOR) - BAR_FLOOR) / (1 - BAR_FLOOR), 1)

    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f'<rect x="4" y="7" width="{width - 8}" height="4" rx="2" fill="#e4e7eb"/>',
        f'<line x1="{x(target)}" y1="2" x2="{x(target)}" y2="16" stroke="#1b873f" stroke-width="1.5"/>',
    ]
    if agreement.rate is not None:
        colour = "#1b873f" if agreement.rate >= target else "#b25e09"
        lo, hi = x(agreement.low), x(agreement.high)
        parts.append(
            f'<rect x="{lo}" y="5" width="{max(hi - lo, 1.5)}" height="8" rx="3" fill="{colour}" opacity=".28"/>'
        )
        parts.append(f'<circle cx="{x(agreement.rate)}" cy="9" r="4" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _kinds(agreement: Agreement) -> str:
    if not agreement.by_kind:
        return '<span class="empty">none</span>' if agreement.compared else ""
    return "".join(f"<span>{escape(kind)} {count:,}</span>" for kind, count in agreement.by_kind)


def _row(row: OpRow, target: float) -> str:
    v3, noise = row.v3, row.noise
    badge = (
        '<span class="badge ready">ready for canary</span>'
        if row.ready
        else f'<span class="badge blocked">not yet</span><div class="why">{escape(row.verdict)}</div>'
    )
    noise_cell = (
        f"{_pct(1 - noise.rate)} <div class='ci'>of {noise.compared:,} replays</div>"
        if noise.rate is not None
        else '<span class="empty">none: a write is never replayed</span>'
        if row.op in WRITE_OPS
        else '<span class="empty">not measured</span>'
    )
    v3_disagree = "—" if v3.rate is None else _pct(1 - v3.rate)
    return (
        "<tr>"
        f"<td class='mono'>{escape(row.tenant)}</td><td><b>{escape(row.op)}</b></td>"
        f"<td class='num'>{v3.compared:,}</td>"
        f"<td class='num'>{_pct(v3.rate)}<div class='ci'>95 % CI {_pct(v3.low)} – {_pct(v3.high)}</div></td>"
        f"<td>{_bar(v3, target)}</td>"
        f"<td class='num'>{v3_disagree}</td><td class='num'>{noise_cell}</td>"
        f"<td class='kinds'>{_kinds(v3)}</td><td>{badge}</td>"
        "</tr>"
    )


def _own_scores(report: Report) -> str:
    """The tenants with their own curve and threshold (scores.tenants): their rows are judged at theirs."""
    if not report.tenant_scores:
        return ""
    own = "; ".join(
        f"{escape(s.tenant)}: {escape(s.calibration)}, threshold {s.match_threshold:g}" for s in report.tenant_scores
    )
    return f"<p class='sub'>Tenants with their own scores (scores.tenants), judged at their own threshold: {own}.</p>"


def _agreement_section(report: Report) -> str:
    r = report.readiness
    head = (
        "<tr><th>Tenant</th><th>Op</th><th style='text-align:right'>Compared</th>"
        "<th style='text-align:right'>Agreement v1↔v3</th><th>90 %…100 %</th>"
        "<th style='text-align:right'>v1↔v3 differs</th><th style='text-align:right'>v1↔v1 noise</th>"
        "<th>What differed</th><th>Verdict</th></tr>"
    )
    body = "".join(_row(row, r.min_agreement) for row in report.rows) or (
        "<tr><td colspan='9' class='empty'>No comparisons recorded yet: put a tenant in shadow.</td></tr>"
    )
    return (
        "<section><h2>Agreement by tenant × operation</h2>"
        f"<p class='sub'>Same decision at the app's threshold ({report.match_threshold:g} on the v1 scale), "
        f"same top-1 person, same ids, names and tags, same write outcome. Ready for canary at ≥ "
        f"{r.min_agreement:.2%} agreement over ≥ {r.min_comparisons:,} comparisons. Noise: a sample of v1 "
        "requests replayed to v1 — a difference v1 also has with itself is not v3's fault.</p>"
        f"{_own_scores(report)}<table>{head}{body}</table></section>"
    )


def _polyline(points: Iterable[Point], sx: float, sy: float, ox: float, oy: float) -> str:
    return " ".join(f"{ox + x * sx:.1f},{oy - y * sy:.1f}" for x, y in points)


def _scatter(scatter: Scatter, threshold: float) -> str:
    size, pad = 300, 34
    s = size / 100
    ox, oy = pad, pad + size
    parts = [
        f'<svg width="{size + pad + 12}" height="{size + pad + 30}" viewBox="0 0 {size + pad + 12} {size + pad + 30}"'
        ' role="img" font-size="10" fill="#66788a">',
        f'<rect x="{ox}" y="{pad}" width="{size}" height="{size}" fill="#fbfcfd" stroke="#e4e7eb"/>',
    ]
    for tick in range(0, 101, 20):
        parts.append(f'<line x1="{ox + tick * s}" y1="{oy}" x2="{ox + tick * s}" y2="{oy + 4}" stroke="#9aa5b1"/>')
        parts.append(f'<text x="{ox + tick * s}" y="{oy + 15}" text-anchor="middle">{tick}</text>')
        parts.append(f'<line x1="{ox - 4}" y1="{oy - tick * s}" x2="{ox}" y2="{oy - tick * s}" stroke="#9aa5b1"/>')
        parts.append(f'<text x="{ox - 7}" y="{oy - tick * s + 3}" text-anchor="end">{tick}</text>')
    parts.append(f'<text x="{ox + size / 2}" y="{oy + 28}" text-anchor="middle">raw v3 Score</text>')
    parts.append(
        f'<text x="10" y="{pad + size / 2}" text-anchor="middle" transform="rotate(-90 10 {pad + size / 2})">'
        "v1 score</text>"
    )
    ty = oy - threshold * s
    parts.append(f'<line x1="{ox}" y1="{ty}" x2="{ox + size}" y2="{ty}" stroke="#c0362c" stroke-dasharray="2 3"/>')
    parts.append(f'<text x="{ox + size - 3}" y="{ty - 4}" text-anchor="end" fill="#c0362c">threshold</text>')
    parts += [
        f'<circle cx="{ox + x * s:.1f}" cy="{oy - y * s:.1f}" r="2.2" fill="#5b8def" fill-opacity=".28"/>'
        for x, y in scatter.dots
    ]
    parts.append(
        f'<polyline points="{_polyline(scatter.current, s, s, ox, oy)}" fill="none" stroke="#9aa5b1" '
        'stroke-width="2" stroke-dasharray="6 4"/>'
    )
    if scatter.fitted is not None:
        parts.append(
            f'<polyline points="{_polyline(scatter.fitted, s, s, ox, oy)}" fill="none" stroke="#e8590c" '
            'stroke-width="2.5"/>'
        )
    parts.append("</svg>")
    fitted_note = "" if scatter.fitted is not None else " (too few pairs to fit)"
    return (
        f"<div class='plot'><h3>{escape(scatter.op)} · {scatter.pairs:,} pairs</h3>{''.join(parts)}"
        "<div class='legend'><span><i style='border-color:#9aa5b1;border-top-style:dashed'></i>calibration in force"
        f"</span><span><i style='border-color:#e8590c'></i>fitted from these pairs{fitted_note}</span>"
        "<span><i style='border-color:#c0362c;border-top-style:dotted'></i>app threshold</span></div></div>"
    )


def _scatter_section(report: Report) -> str:
    plots = "".join(_scatter(s, report.match_threshold) for s in report.scatters)
    return (
        "<section><h2>Scores: v1 against raw v3</h2>"
        f"<p class='sub'>Each dot is one question asked of both backends. Calibration in force: "
        f"{escape(report.calibration_name)}. A fitted curve that crosses the threshold elsewhere moves "
        "decisions: <span class='mono'>v1proxy calibrate</span> writes it as a scores: section.</p>"
        + (f"<div class='grid'>{plots}</div>" if plots else "<p class='empty'>No score pairs yet.</p>")
        + "</section>"
    )


def _latency_section(rows: Sequence[OpRow]) -> str:
    body = []
    for row in rows:
        for side, p50, p95, count in row.latency_ms:
            body.append(
                f"<tr><td class='mono'>{escape(row.tenant)}</td><td>{escape(row.op)}</td><td>{escape(side)}</td>"
                f"<td class='num'>{_ms(p50)}</td><td class='num'>{_ms(p95)}</td><td class='num'>{count:,}</td></tr>"
            )
    table = (
        "<table><tr><th>Tenant</th><th>Op</th><th>Side</th><th style='text-align:right'>p50</th>"
        "<th style='text-align:right'>p95</th><th style='text-align:right'>Answers</th></tr>"
        + "".join(body)
        + "</table>"
        if body
        else "<p class='empty'>No latencies recorded yet.</p>"
    )
    return (
        "<section><h2>Latency of both sides</h2><p class='sub'>Upper bounds of histogram buckets "
        "(1, 2, 5, 10, 20, 50, 100 … ms). v1 answered the app; v3 ran in the background.</p>"
        f"{table}</section>"
    )


def _outbox_section(report: Report) -> str:
    outbox = report.outbox
    if outbox is None:
        inner = "<p class='empty'>The store could not be read for its outbox.</p>"
    else:
        age = outbox.oldest_open_age_s
        state = (
            "<span class='badge drained'>drained</span> every dual write has reached both backends"
            if not outbox.open
            else f"<span class='badge owed'>{outbox.open:,} owed</span> oldest waiting "
            + ("—" if age is None else f"{age:,.0f} s")
        )
        inner = (
            f"<p>{state}</p><table><tr><th>State</th><th style='text-align:right'>Entries</th></tr>"
            + "".join(f"<tr><td>{escape(s)}</td><td class='num'>{n:,}</td></tr>" for s, n in outbox.counts)
            + "</table>"
        )
    return f"<section><h2>Outbox</h2><p class='sub'>Dual writes still owed to the other backend.</p>{inner}</section>"


def _disagreements_section(report: Report) -> str:
    if not report.disagreements:
        inner = "<p class='empty'>No disagreement kept.</p>"
    else:
        inner = (
            "<table><tr><th>When (UTC)</th><th>Tenant</th><th>Op</th><th>Against</th><th>Request</th>"
            "<th style='text-align:right'>Codes</th><th>Differed</th><th>Detail</th></tr>"
            + "".join(
                f"<tr><td class='num'>{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(d.at))}</td>"
                f"<td class='mono'>{escape(d.tenant)}</td><td>{escape(d.op)}</td><td>{escape(d.against.value)}</td>"
                f"<td class='mono'>{escape(d.request_hash[:12])}</td>"
                f"<td class='num'>{d.control_code} / {d.candidate_code}</td>"
                f"<td class='kinds'>{''.join(f'<span>{escape(k)}</span>' for k in d.differences)}</td>"
                f"<td>{escape(d.detail)}</td></tr>"
                for d in report.disagreements
            )
            + "</table>"
        )
    return (
        "<section><h2>Latest disagreements</h2><p class='sub'>Hashes, ids, codes and scores only — "
        f"never an image.</p>{inner}</section>"
    )


def render_html(report: Report) -> str:
    """The whole page."""
    total = sum(r.v3.compared for r in report.rows)
    agreed = sum(r.v3.agreed for r in report.rows)
    overall = agreed / total if total else None
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.generated_at))
    pills = (
        f"<div class='pill'><span>Ready for canary</span><b>{report.ready_count} / {len(report.rows)}</b></div>"
        f"<div class='pill'><span>Comparisons</span><b>{total:,}</b></div>"
        f"<div class='pill'><span>Overall agreement</span><b>{_pct(overall)}</b></div>"
        f"<div class='pill'><span>Disagreements kept</span><b>{len(report.disagreements):,}</b></div>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>v1 → v3 migration report</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>v1 → v3 migration report</h1><p>Shadow comparison of the legacy v1 service and IAI v3 · "
        f"generated {generated}</p><div class='pills'>{pills}</div></header><main>"
        + _agreement_section(report)
        + _scatter_section(report)
        + _latency_section(report.rows)
        + _outbox_section(report)
        + _disagreements_section(report)
        + "</main><footer>v1proxy report · self-contained: no script, no network.</footer></body></html>"
    )
