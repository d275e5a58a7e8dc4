"""The `migration:` section: its routes validated (path, expected, got) by settings and `v1proxy check-config`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from proxy.cli import main
from proxy.settings import SettingsError, parse_settings
from tests.test_settings import EXAMPLE, minimal

LEGACY = {"endpoint": "http://127.0.0.1:9010"}


def test_example_documents_a_tenant_in_shadow(monkeypatch: pytest.MonkeyPatch) -> None:
    from proxy.settings import load_settings

    for name in ("IAI_SECRET_ID", "IAI_SECRET_KEY", "LEGACY_SECRET_KEY"):
        monkeypatch.setenv(name, "x")
    migration = load_settings(EXAMPLE).migration
    assert migration.legacy is not None and migration.legacy.endpoint == "http://127.0.0.1:9010"
    assert migration.route("1250000000", "verify") == "shadow"
    assert migration.route("somebody-else", "verify") == "v3"
    assert migration.outbox.max_attempts == 100


def test_routes_are_normalised_and_ops_override() -> None:
    settings = parse_settings(
        minimal(
            migration={
                "legacy": LEGACY,
                "default_route": "V1",
                "tenants": {1250000000: {"route": "canary: 10", "ops": {"identify": "v1"}, "retire_v1": False}},
            }
        )
    )
    assert settings.migration.route("1250000000", "verify") == "canary 10%"
    assert settings.migration.route("1250000000", "identify") == "v1"
    assert settings.migration.default_route == "v1"
    assert settings.migration.route("other", "verify") == "v1"


def test_no_migration_section_is_all_v3() -> None:
    settings = parse_settings(minimal())
    assert settings.migration.legacy is None and settings.migration.route("1250000000", "addface") == "v3"


@pytest.mark.parametrize(
    ("migration", "path", "expected"),
    [
        ({"legacy": LEGACY, "tenants": {"1250000000": {"route": "v2"}}}, "migration.tenants.1250000000.route", "route"),
        ({"legacy": LEGACY, "tenants": {"1250000000": {"route": "canary 150%"}}}, "migration.tenants.1250000000.route", "0..100"),  # noqa: E501
        ({"legacy": LEGACY, "tenants": {"1250000000": {"ops": {"enrol": "v1"}}}}, "migration.tenants.1250000000.ops", "unknown v1 op"),  # noqa: E501
        ({"tenants": {"1250000000": {"route": "shadow"}}}, "migration", "legacy.endpoint"),
        ({"legacy": {"endpoint": "ftp://x"}}, "migration.legacy.endpoint", "pattern"),
        ({"legacy": LEGACY, "default_route": "sideways"}, "migration.default_route", "route"),
        ({"legacy": LEGACY, "outbox": {"retry_base_s": 0}}, "migration.outbox.retry_base_s", "greater than 0"),
        ({"legacy": LEGACY, "tenants": {"999": {"route": "v1"}}}, "(top level)", "not tenants: 999"),
    ],
)  # fmt: skip
def test_problems_name_the_path(migration: dict[str, object], path: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(minimal(migration=migration))
    problems = {p.path: p for p in caught.value.problems}
    assert path in problems, problems
    assert expected in problems[path].expected


def test_check_config_refuses_a_bad_route(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(minimal(migration={"legacy": LEGACY, "tenants": {"1250000000": {"route": "v4"}}})))
    assert main(["check-config", str(config)]) != 0
    out = capsys.readouterr()
    assert "migration.tenants.1250000000.route" in out.out + out.err
    config.write_text(
        yaml.safe_dump(minimal(migration={"legacy": LEGACY, "tenants": {"1250000000": {"route": "canary 5%"}}}))
    )
    assert main(["check-config", str(config)]) == 0
