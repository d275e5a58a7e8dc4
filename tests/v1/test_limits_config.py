"""Issue 10 items 3 and 4 in configuration: the new limits are validated, and isolation cannot be configured away."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.settings import SettingsError, parse_settings

BASE: dict[str, Any] = {
    "upstream": {"endpoint": "http://127.0.0.1:9", "secret_id": "id", "secret_key": "key"},
    "tenants": [
        {"appid": "1250000001", "legacy_keys": [{"secret_id": "AKIDa", "secret_key": "a"}]},
        {"appid": "1250000002", "legacy_keys": [{"secret_id": "AKIDb", "secret_key": "b"}]},
    ],
}


def with_(**changes: Any) -> dict[str, Any]:
    data = {**BASE, **changes}
    return data


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(SettingsError) as info:
        parse_settings(data)
    return str(info.value)


def test_isolated_false_next_to_another_tenant_is_refused_naming_both() -> None:
    tenants = [dict(BASE["tenants"][0], isolated=False), BASE["tenants"][1]]
    text = problems(with_(tenants=tenants))
    assert "1250000001" in text and "1250000002" in text
    assert "isolated" in text


def test_isolated_false_alone_on_its_credentials_is_accepted() -> None:
    settings = parse_settings(with_(tenants=[dict(BASE["tenants"][0], isolated=False)]))
    assert settings.tenants[0].isolated is False


def test_check_config_refuses_shared_isolation(tmp_path: Path) -> None:
    path = tmp_path / "proxy.yaml"
    tenants = [BASE["tenants"][0], dict(BASE["tenants"][1], isolated=False)]
    path.write_text(yaml.safe_dump(with_(tenants=tenants)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "tenant 1250000002 has isolated: false" in done.stderr
    assert "tenant 1250000001" in done.stderr


@pytest.mark.parametrize(
    ("limits", "needle"),
    [
        ({"header_timeout_s": 0}, "limits.header_timeout_s"),
        ({"keepalive_timeout_s": -1}, "limits.keepalive_timeout_s"),
        ({"body_min_rate_bytes_s": 0}, "limits.body_min_rate_bytes_s"),
        ({"body_grace_s": -1}, "limits.body_grace_s"),
        ({"body_timeout_s": 0}, "limits.body_timeout_s"),
        ({"max_connections": 0}, "limits.max_connections"),
        ({"body_budget_wait_s": -0.1}, "limits.body_budget_wait_s"),
        ({"max_inflight_per_tenant": 0}, "limits.max_inflight_per_tenant"),
        ({"max_body_bytes": 2_000_000, "body_budget_bytes": 1_000_000}, "body_budget_bytes (1000000) at least"),
    ],
)
def test_limits_are_validated(limits: dict[str, Any], needle: str) -> None:
    assert needle in problems(with_(limits=limits))


def test_one_tenant_cannot_hold_the_whole_body_budget() -> None:
    limits = {"max_body_bytes": 6 * 2**20, "body_budget_bytes": 64 * 2**20, "max_inflight_per_tenant": 10}
    text = problems(with_(limits=limits))
    assert "limits.body_budget_bytes (67108864) at least (max_inflight_per_tenant + 1) x max_body_bytes" in text
    # alone, a tenant may use all of it
    assert parse_settings(with_(limits=limits, tenants=[BASE["tenants"][0]])).limits.max_inflight_per_tenant == 10
    # the defaults hold for any number of tenants
    assert parse_settings(with_()).limits.max_inflight_per_tenant == 32


def test_upstream_deadline_is_validated() -> None:
    upstream = dict(BASE["upstream"], deadline_s=0)
    assert "upstream.deadline_s" in problems(with_(upstream=upstream))
    upstream = dict(BASE["upstream"], deadline_s=1, connect_timeout=2)
    assert "deadline_s (1.0) at least connect_timeout" in problems(with_(upstream=upstream))


def test_example_config_documents_every_new_key() -> None:
    text = (Path(__file__).resolve().parents[2] / "config" / "example.yaml").read_text(encoding="utf-8")
    for key in (
        "header_timeout_s",
        "keepalive_timeout_s",
        "body_min_rate_bytes_s",
        "body_grace_s",
        "body_timeout_s",
        "max_connections",
        "body_budget_bytes",
        "body_budget_wait_s",
        "max_inflight_per_tenant",
        "deadline_s",
    ):
        assert f"  {key}:" in text, key
