"""The shadow: section: validated by check-config, and it changes the report's verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from proxy.cli import main
from proxy.settings import SettingsError, parse_settings
from tests.test_settings import minimal


def test_defaults_and_problems() -> None:
    shadow = parse_settings(minimal()).shadow
    assert (shadow.ready_agreement_percent, shadow.ready_min_comparisons) == (99.5, 1000)
    with pytest.raises(SettingsError) as caught:
        parse_settings(minimal(shadow={"ready_agreement_percent": 101, "ready_min_comparisons": 0, "x": 1}))
    assert sorted(p.path for p in caught.value.problems) == [
        "shadow.ready_agreement_percent",
        "shadow.ready_min_comparisons",
        "shadow.x",
    ]


def test_check_config_names_the_shadow_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(minimal(shadow={"ready_agreement_percent": 0})), encoding="utf-8")
    assert main(["check-config", str(path)]) == 1
    assert "shadow.ready_agreement_percent: expected Input should be greater than 0, got 0" in capsys.readouterr().err
