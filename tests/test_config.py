"""One compile step (proxy.config): check-config names every problem that would stop serve; serve refuses them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from proxy.cli import main
from proxy.config import compile_settings
from proxy.settings import SettingsError, parse_settings


def config(**extra: object) -> dict[str, object]:
    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "admin": {"host": "127.0.0.1", "port": 0},
        "upstream": {"endpoint": "http://127.0.0.1:9", "secret_id": "id", "secret_key": "key"},
        "tenants": [{"appid": "1250000000", "legacy_keys": [{"secret_id": "AKID", "secret_key": "k"}]}],
        "store": {"url": "sqlite://:memory:"},
        **extra,
    }


BROKEN = config(
    scores={"calibration": [[0, 0], [60, 90], [50, 95], [100, 100]]},
    errors={"overrides": {"InvalidParameterValue.PersonIdNotExist": 999, "FailedOperation.Foo": -1303}},
    tls={"cert_file": "/nonexistent/cert.pem", "key_file": "/nonexistent/key.pem"},
)


def test_compile_names_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        compile_settings(parse_settings(BROKEN))
    paths = [p.path for p in info.value.problems]
    assert paths == ["errors.overrides.InvalidParameterValue.PersonIdNotExist", "scores.calibration", "tls"]
    problems = [str(p) for p in info.value.problems]
    assert "unknown v1 code 999" in problems[0]
    assert "strictly increasing" in problems[1]


def test_check_config_refuses_what_serve_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(BROKEN))
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "scores.calibration: expected a monotone curve" in err
    assert "errors.overrides.InvalidParameterValue.PersonIdNotExist: expected a v1 code" in err
    # serve takes the same step: the same problems, exit 2, no traceback, nothing left open
    served = subprocess.run(
        [sys.executable, "-m", "proxy", "serve", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert served.returncode == 2
    assert "Traceback" not in served.stderr
    assert "scores.calibration: expected a monotone curve" in served.stderr
    assert "errors.overrides.InvalidParameterValue.PersonIdNotExist" in served.stderr


def test_a_good_configuration_compiles_to_its_runtime_objects() -> None:
    compiled = compile_settings(parse_settings(config(errors={"overrides": {"FailedOperation.Foo": -1303}})))
    assert compiled.errors.to_v1("FailedOperation.Foo").code == -1303
    assert compiled.calibration.to_v1(50.0) == 80.0
    assert compiled.keyring.knows_appid("1250000000")
    assert compiled.endpoint.host == "127.0.0.1:9"
    assert compiled.tls is None
    assert compiled.limits.max_fields == 64


def test_a_tenants_own_scores_are_checked_like_the_global_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = "1250000000"
    broken = config(scores={"tenants": {tenant: {"calibration": [[0, 0], [60, 90], [50, 95], [100, 100]]}}})
    with pytest.raises(SettingsError) as info:
        compile_settings(parse_settings(broken))
    assert [p.path for p in info.value.problems] == [f"scores.tenants.{tenant}.calibration"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    assert main(["check-config", str(path)]) == 1
    assert f"scores.tenants.{tenant}.calibration: expected a monotone curve" in capsys.readouterr().err
    with pytest.raises(SettingsError, match=r"scores\.tenants names appids that are not tenants: 1250000099"):
        parse_settings(config(scores={"tenants": {1250000099: {"match_threshold": 90}}}))
    with pytest.raises(SettingsError, match=r"scores\.tenants\.1250000000\.match_threshold"):
        parse_settings(config(scores={"tenants": {tenant: {"match_threshold": 101}}}))
    # what a tenant leaves unset comes from the global scores; an unquoted appid is a string
    compiled = compile_settings(
        parse_settings(config(scores={"match_threshold": 70, "tenants": {1250000000: {"calibration": "identity"}}}))
    )
    own = compiled.tenant_calibrations[tenant]
    assert (own.to_v1(50.0), own.match_threshold) == (50.0, 70.0)
    assert compiled.calibration.to_v1(50.0) == 80.0  # the global far-matched for everyone else
