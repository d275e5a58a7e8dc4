"""Settings and `v1proxy check-config`: every problem reported as path, expected, got; secrets never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.cli import main
from proxy.settings import SettingsError, load_settings, parse_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "example.yaml"


def minimal(**extra: object) -> dict[str, object]:
    return {
        "upstream": {"endpoint": "http://127.0.0.1:9000", "secret_id": "id", "secret_key": "key"},
        "tenants": [{"appid": 1250000000, "legacy_keys": [{"secret_id": "AKID", "secret_key": "k"}]}],
        **extra,
    }


def test_example_config_is_valid_with_its_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IAI_SECRET_ID", "IAI_SECRET_KEY", "LEGACY_SECRET_KEY"):
        monkeypatch.setenv(name, f"value-of-{name}")
    settings = load_settings(EXAMPLE)
    assert settings.upstream.secret_key.get_secret_value() == "value-of-IAI_SECRET_KEY"
    assert settings.tenants[0].appid == "1250000000"
    assert settings.tenants[0].legacy_keys[0].secret_key.get_secret_value() == "value-of-LEGACY_SECRET_KEY"
    assert settings.limits.max_body_bytes == 6 * 1024 * 1024


def test_secret_from_file_and_numeric_appid(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    data = minimal()
    data["upstream"] = {"endpoint": "http://x:1", "secret_id": "id", "secret_key_file": str(secret)}
    settings = parse_settings(data)
    assert settings.upstream.secret_key.get_secret_value() == "from-a-file"
    assert settings.tenants[0].appid == "1250000000"
    assert "from-a-file" not in repr(settings)


def test_every_problem_has_path_expected_got(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    data = minimal(listen={"host": "0.0.0.0", "port": 70000}, scores={"calibration": "magic"}, surprise=1)
    data["upstream"] = {"endpoint": "ftp://x", "secret_id_env": "NOPE", "secret_key": "k"}
    with pytest.raises(SettingsError) as caught:
        parse_settings(data)
    problems = {p.path: p for p in caught.value.problems}
    assert problems["upstream.secret_id_env"].expected == "environment variable NOPE to be set"
    assert "listen.port" in problems and problems["listen.port"].got == "70000"
    assert "upstream.endpoint" in problems and "http" in problems["upstream.endpoint"].expected
    assert "surprise" in problems
    assert any(path.startswith("scores.calibration") for path in problems)


def test_duplicate_legacy_secret_ids_are_refused() -> None:
    data = minimal()
    key = {"secret_id": "AKID", "secret_key": "k"}
    data["tenants"] = [{"appid": "1", "legacy_keys": [key]}, {"appid": "2", "legacy_keys": [key]}]
    with pytest.raises(SettingsError, match="repeated: AKID"):
        parse_settings(data)


def test_secrets_are_never_echoed_in_problems() -> None:
    data = minimal()
    data["tenants"] = [{"appid": "1", "legacy_keys": [{"secret_id": "", "secret_key": "TOP-SECRET"}]}]
    with pytest.raises(SettingsError) as caught:
        parse_settings(data)
    assert "TOP-SECRET" not in str(caught.value)


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstream: {endpoint: http://x:1, secret_id: a}\ntenants: []\n")
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "upstream.secret_key: expected one of secret_key, secret_key_env, secret_key_file, got (missing)" in err
    assert "tenants" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("listen: [\n")
    assert main(["check-config", str(broken)]) == 1
    assert "valid YAML" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(
        "upstream: {endpoint: 'http://127.0.0.1:9000', secret_id: a, secret_key: b}\n"
        "tenants: [{appid: '1', legacy_keys: [{secret_id: A, secret_key: B}]}]\n"
    )
    assert main(["check-config", str(good)]) == 0
    assert "OK (1 tenant(s)" in capsys.readouterr().out
