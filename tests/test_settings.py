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


def test_quota_and_redis_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PW", "redis-secret")
    settings = parse_settings(
        minimal(
            limits={"quota_qps": 40, "quota_groups": {"search": 10}, "quota_wait_ms": 500},
            redis={"url": "redis://cache:6379/2", "password_env": "REDIS_PW"},
        )
    )
    assert settings.limits.quota_groups == {"search": 10}
    assert settings.redis is not None and settings.redis.password is not None
    assert settings.redis.password.get_secret_value() == "redis-secret"
    assert "redis-secret" not in repr(settings)
    assert parse_settings(minimal()).redis is None


@pytest.mark.parametrize(
    ("section", "path", "expected"),
    [
        ({"limits": {"quota_groups": {"search": -1}}}, "limits.quota_groups", "a rate >= 0"),
        ({"limits": {"quota_wait_ms": -1}}, "limits.quota_wait_ms", "greater than or equal to 0"),
        ({"redis": {"url": "http://cache:6379"}}, "redis.url", "a redis://"),
        ({"redis": {"url": "redis://:pw@cache:6379/0"}}, "redis.url", "without credentials"),
        ({"redis": {"url": "redis://cache", "password_env": "V1PROXY_UNSET_X"}}, "redis.password_env", "to be set"),
    ],
)
def test_quota_and_redis_problems(section: dict[str, object], path: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(minimal(**section))
    problems = {p.path: p for p in caught.value.problems}
    assert path in problems, problems
    assert expected in problems[path].expected
    assert "pw@" not in str(caught.value)


def test_unknown_quota_group_is_named_when_compiling() -> None:
    from proxy.config import compile_settings

    with pytest.raises(SettingsError) as caught:
        compile_settings(parse_settings(minimal(limits={"quota_groups": {"faces": 10, "search": 5}})))
    problems = {p.path: p for p in caught.value.problems}
    assert problems["limits.quota_groups"].got == "faces"
    assert "interface groups among" in problems["limits.quota_groups"].expected
    compiled = compile_settings(parse_settings(minimal(limits={"quota_groups": {"search": 5}})))
    assert compiled.quota.rate("search").qps == 5 and compiled.redis is None
