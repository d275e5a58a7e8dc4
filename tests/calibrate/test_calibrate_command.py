"""`v1proxy calibrate`: points from stored pairs, figures before/after, a file the configuration reads."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from proxy.calibrate.fit import decision_agreement
from proxy.cli import main
from proxy.config import compile_settings
from proxy.migration.compare import Comparison, ScorePair
from proxy.migration.ledger import Against, Observation, SqliteLedger
from proxy.settings import parse_settings
from proxy.translate.scores import calibration_from_config
from tests.calibrate.test_fit import legacy_like
from tests.test_settings import minimal


def configure(tmp_path: Path, pairs: int, tenant_shift: float = 0.0) -> Path:
    """A config whose store holds `pairs` legacy-like verify pairs per tenant (the second shifted)."""
    ledger = SqliteLedger(str(tmp_path / "meta.db"))
    for n, tenant in enumerate(("1250000000", "1250000001")):
        v1, v3 = legacy_like(pairs, seed=n)
        ledger.record_many_now(
            Observation(
                tenant,
                Against.V3,
                Comparison("verify", (), 0, 0, pairs=(ScorePair(a, min(100.0, b + n * tenant_shift)),)),
                "h",
                1.0,
                1.0,
            )
            for a, b in zip(v1, v3, strict=True)
        )
    ledger.close_now()
    data = minimal(store={"url": f"sqlite:///{tmp_path / 'meta.db'}"})
    data["tenants"] = [
        {"appid": t, "legacy_keys": [{"secret_id": f"AKID{t}", "secret_key": "k"}]}
        for t in ("1250000000", "1250000001")
    ]
    path = tmp_path / "v1proxy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_points_read_as_a_scores_section_and_raise_agreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = configure(tmp_path, 1500)
    out = tmp_path / "points.yaml"
    assert main(["calibrate", "--config", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tenant all, op verify+compare+identify: 3000 pairs (fit 2100, held out 900)" in printed
    assert "close to the pooled fit" in printed and "differs" not in printed
    section = yaml.safe_load(out.read_text(encoding="utf-8"))
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    applied = parse_settings({**data, "scores": section["scores"]}).scores  # what a reload would read
    assert applied.match_threshold == 80.0
    fitted = calibration_from_config(applied.calibration, applied.match_threshold)
    v1, v3 = legacy_like(2000, seed=99)  # fresh traffic from the same relation, never seen by the fit
    before = decision_agreement(calibration_from_config("far-matched", 80.0), np.asarray(v1), np.asarray(v3))
    after = decision_agreement(fitted, np.asarray(v1), np.asarray(v3))
    assert after > 0.99 > 0.97 > before


def test_filters_and_tenants_that_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = configure(tmp_path, 600, tenant_shift=8.0)
    out = tmp_path / "points.yaml"
    assert main(["calibrate", "--config", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tenant 1250000001: own fit" in printed and "differs: fit it alone (--tenant)" in printed
    assert (
        main(["calibrate", "--config", str(config), "--tenant", "1250000001", "--op", "verify", "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "tenant 1250000001, op verify: 600 pairs (fit 420, held out 180)" in printed
    verdict = re.search(r"tenant 1250000001: own fit ([0-9.]+) vs pooled ([0-9.]+) \(its fit pairs \+ 600 of", printed)
    assert verdict is not None and float(verdict[1]) > float(verdict[2]) + 0.01, printed
    assert "differs: fit it alone (--tenant)" in printed
    # the file is the tenant's own entry under scores.tenants; the global curve stays for the other tenant
    section = yaml.safe_load(out.read_text(encoding="utf-8"))["scores"]
    assert set(section) == {"tenants"} and set(section["tenants"]) == {"1250000001"}
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    compiled = compile_settings(parse_settings({**data, "scores": section}))
    own = compiled.tenant_calibrations["1250000001"]
    assert [list(p) for p in own.points] == section["tenants"]["1250000001"]["calibration"]
    assert own.to_v1(70.0) != compiled.calibration.to_v1(70.0) == 92.5  # the other tenant keeps far-matched
    assert main(["calibrate", "--config", str(config), "--tenant", "1250000099", "--out", str(out)]) == 2
    assert "--tenant 1250000099 is not a tenant of the configuration" in capsys.readouterr().err


def test_a_tenant_like_the_others_is_told_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = configure(tmp_path, 600)
    out = tmp_path / "points.yaml"
    assert main(["calibrate", "--config", str(config), "--tenant", "1250000000", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tenant 1250000000: own fit" in printed and "(close to the pooled fit)" in printed, printed


def test_too_few_pairs_exit_1_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = configure(tmp_path, 5)
    out = tmp_path / "points.yaml"
    assert main(["calibrate", "--config", str(config), "--op", "compare", "--out", str(out)]) == 1
    assert "need at least 20 stored score pairs, found 0" in capsys.readouterr().err
    assert not out.exists()
