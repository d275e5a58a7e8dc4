"""`v1proxy report`: figures checked against counts the test keeps itself; the page rendered in chromium."""

from __future__ import annotations

import json
import math
import os
import random
import re
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.cli import main
from proxy.migration.compare import Answer, Judge, compare
from proxy.migration.ledger import Against, Observation, SqliteLedger
from tests.report.browser import rendered_dom, screenshot

TENANTS = ("1250000001", "1250000002")
THRESHOLD = 80.0
# (tenant, op) -> (comparisons, planned disagreements); 1250000001/verify passes the readiness rule set below
PLAN = {
    ("1250000001", "verify"): (400, 1),
    ("1250000001", "identify"): (150, 6),
    ("1250000001", "getinfo"): (120, 0),
    ("1250000002", "compare"): (380, 19),
    ("1250000002", "newperson"): (60, 3),
}
NOISE = {("1250000001", "verify"): (40, 2)}


def _answers(op: str, disagree: bool, rng: random.Random) -> tuple[Answer, Answer, float]:
    """A v1 answer and a v3 answer that differ (or not) in what the op's comparator judges; the v1 score."""
    v1_score = rng.choice((rng.uniform(85, 99), rng.uniform(5, 70)))
    raw = 20 + v1_score / 2
    same_side = v1_score if not disagree else (60.0 if v1_score >= THRESHOLD else 90.0)
    if op in ("verify", "compare"):
        key = "confidence" if op == "verify" else "similarity"
        return Answer(0, {key: v1_score}), Answer(0, {key: same_side}, (raw,)), v1_score
    if op == "identify":
        top = "bob" if disagree else "alice"
        v1 = {"candidates": [{"person_id": "alice", "confidence": v1_score}]}
        v3 = {"candidates": [{"person_id": top, "confidence": v1_score}]}
        return Answer(0, v1), Answer(0, v3, (raw,)), v1_score
    if op == "getinfo":
        info = {"person_name": "A", "tag": "t", "group_ids": ["g"], "face_ids": ["1"]}
        return Answer(0, info), Answer(0, info), 0.0
    return Answer(0, {"person_id": "p"}), (Answer(-1302, {}) if disagree else Answer(0, {"person_id": "p"})), 0.0


def fill(path: Path) -> dict[str, Any]:
    """Record the plan through the real comparators; return what the test expects, counted independently."""
    rng = random.Random(2024)
    ledger = SqliteLedger(str(path))
    expected: dict[str, Any] = {"rows": {}, "pairs": Counter()}
    observations = []
    for plan, against in ((PLAN, Against.V3), (NOISE, Against.V1)):
        for (tenant, op), (total, disagree) in plan.items():
            bad = set(rng.sample(range(total), disagree))
            for i in range(total):
                control, candidate, _ = _answers(op, i in bad, rng)
                if against is Against.V1:
                    candidate = Answer(candidate.code, candidate.data)  # a v1 replay has no raw v3 score
                comparison = compare(op, control, candidate, Judge(THRESHOLD))
                observations.append(
                    Observation(tenant, against, comparison, f"{i:064x}", control_ms=4.0, candidate_ms=30.0)
                )
                if against is Against.V3 and op in ("verify", "compare", "identify"):
                    # identify pairs a person found by both: a different top-1 (bob) shares no one with v1
                    expected["pairs"][op] += 0 if (op == "identify" and i in bad) else 1
            expected["rows"][(tenant, op, against.value)] = (total, total - disagree)
    ledger.record_many_now(observations)
    ledger.close_now()
    return expected


def wilson_reference(k: int, n: int) -> tuple[float, float]:
    """The Wilson interval as the two roots of (p̂ - p)² = z² p (1 - p) / n, solved as a quadratic in p."""
    z2, ph = 1.959963984540054**2, k / n
    a, b, c = 1 + z2 / n, -(2 * ph + z2 / n), ph * ph
    root = math.sqrt(b * b - 4 * a * c)
    return ((-b - root) / (2 * a), (-b + root) / (2 * a))


@pytest.fixture
def configured(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    expected = fill(tmp_path / "meta.db")
    config = {
        "upstream": {"endpoint": "http://127.0.0.1:9", "secret_id": "id", "secret_key": "key"},
        "tenants": [{"appid": t, "legacy_keys": [{"secret_id": f"AKID{t}", "secret_key": "k"}]} for t in TENANTS],
        "store": {"url": f"sqlite:///{tmp_path / 'meta.db'}"},
        "scores": {"match_threshold": THRESHOLD},
        "shadow": {"ready_agreement_percent": 99.5, "ready_min_comparisons": 300},
    }
    path = tmp_path / "v1proxy.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path, expected


def test_json_figures_match_the_counts_kept_by_the_test(
    configured: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, expected = configured
    out = tmp_path / "report.json"
    assert main(["report", "--config", str(config), "--out", str(out), "--format", "json"]) == 0
    assert f"wrote {out}: 5 tenant × op row(s), 1 ready for canary" in capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    rows = {(r["tenant"], r["op"]): r for r in report["rows"]}
    assert set(rows) == set(PLAN)
    for (tenant, op, against), (compared, agreed) in expected["rows"].items():
        side = rows[(tenant, op)]["v3" if against == "v3" else "noise"]
        assert (side["compared"], side["agreed"], side["disagreed"]) == (compared, agreed, compared - agreed)
        low, high = wilson_reference(agreed, compared)
        assert side["low"] == pytest.approx(low, abs=1e-9) and side["high"] == pytest.approx(high, abs=1e-9)
    assert rows[("1250000002", "compare")]["v3"]["by_kind"] == [["decision", 19]]
    assert rows[("1250000002", "newperson")]["v3"]["by_kind"] == [["outcome", 3]]
    assert rows[("1250000001", "identify")]["v3"]["by_kind"] == [["top1", 6]]
    # 399/400 = 99.75 % over 400 ≥ 300: ready; the others are blocked, and say why
    verdicts = {key: (r["ready"], r["verdict"]) for key, r in rows.items()}
    assert verdicts[("1250000001", "verify")] == (True, "ready for canary")
    assert verdicts[("1250000001", "getinfo")] == (False, "180 more comparisons needed")
    assert verdicts[("1250000002", "compare")] == (False, "agreement 95.00% < 99.50%")
    assert rows[("1250000001", "verify")]["noise"]["compared"] == 40
    assert {s["op"]: s["pairs"] for s in report["scatters"]} == dict(expected["pairs"])
    assert len(report["disagreements"]) == 1 + 6 + 19 + 3 + 2
    latency = {(r["tenant"], r["op"]): r["latency_ms"] for r in report["rows"]}
    assert latency[("1250000001", "verify")] == [
        {"side": "v1", "p50": 5.0, "p95": 5.0, "count": 440},
        {"side": "v3", "p50": 50.0, "p95": 50.0, "count": 400},
        {"side": "v1-replay", "p50": 50.0, "p95": 50.0, "count": 40},
    ]
    assert report["outbox"] == {  # a store with an empty write journal
        "counts": [["pending", 0], ["applied", 0], ["failed", 0], ["unknown", 0]],
        "oldest_open_age_s": None,
    }


def _png_size(png: Path) -> tuple[int, int]:
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_page_is_self_contained_and_renders_in_headless_chromium(
    configured: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    config, expected = configured
    page = tmp_path / "report.html"
    assert main(["report", "--config", str(config), "--out", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    for outside in ("http://", "https://", "<script", "<link", "url(", "@import", "<img"):
        assert outside not in html, outside  # nothing to fetch, nothing to run

    dom = rendered_dom(page)
    text = re.sub(r"<[^>]+>", " ", dom)
    assert "v1 → v3 migration report" in text
    assert dom.count("badge ready") == 1 and dom.count("badge blocked") == 4
    assert "95.00 %" in text and "99.75 %" in text  # 1250000002/compare, 1250000001/verify agreement
    assert dom.count("<svg") == 5 + 3  # one bar per row, one scatter per scored op (verify, compare, identify)
    assert len(re.findall(r"<circle[^>]*r=\"2.2\"", dom)) == sum(expected["pairs"].values())
    assert "v1-replay" in text and "every dual write has reached both backends" in text
    # noise: measured for 1250000001/verify; a write is never replayed; the other reads had no replay
    assert (text.count("a write is never replayed"), text.count("not measured")) == (1, 3)

    artifacts = Path(os.environ.get("V1PROXY_ARTIFACTS", str(tmp_path)))  # keep the picture where people look
    artifacts.mkdir(parents=True, exist_ok=True)
    png = artifacts / "report.png"
    screenshot(page, png)
    print(f"report screenshot: {png}")
    assert _png_size(png) == (1400, 2400)
    assert png.stat().st_size > 50_000  # a rendered page, not a blank one (blank: ~10 KB)


def test_the_readiness_rule_is_the_configured_one(
    configured: tuple[Path, dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = configured
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    del data["shadow"]  # defaults: 99.5 % over 1,000 comparisons, which no row has
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "default.json"
    assert main(["report", "--config", str(config), "--out", str(out), "--format", "json"]) == 0
    assert "0 ready for canary" in capsys.readouterr().out
    rows = {(r["tenant"], r["op"]): r for r in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    assert rows[("1250000001", "verify")]["verdict"] == "600 more comparisons needed"
    data["shadow"] = {"ready_agreement_percent": 95.0, "ready_min_comparisons": 100}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["report", "--config", str(config), "--out", str(out), "--format", "json"]) == 0
    assert "4 ready for canary" in capsys.readouterr().out  # all but 1250000002/newperson (60 < 100)


def test_tenants_with_their_own_scores_are_named_with_the_threshold_they_are_judged_at(
    configured: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    config, _ = configured
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["scores"]["tenants"] = {TENANTS[1]: {"match_threshold": 95}, TENANTS[0]: {"calibration": [[0, 0], [100, 100]]}}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "own.json"
    assert main(["report", "--config", str(config), "--out", str(out), "--format", "json"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["tenant_scores"] == [
        {"tenant": TENANTS[0], "calibration": "2 configured points", "match_threshold": THRESHOLD},
        {"tenant": TENANTS[1], "calibration": "far-matched", "match_threshold": 95.0},
    ]
    page = tmp_path / "own.html"
    assert main(["report", "--config", str(config), "--out", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert f"{TENANTS[0]}: 2 configured points, threshold 80; {TENANTS[1]}: far-matched, threshold 95." in text
