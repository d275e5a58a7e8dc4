"""The store's settings (URL, password from env/file, pool) validated, and `v1proxy migrate-store` on both backends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from proxy.settings import SettingsError, parse_settings
from proxy.store.schema import SCHEMA_VERSION
from tests.store.conftest import Backend


def minimal(store: dict[str, object]) -> dict[str, object]:
    return {
        "upstream": {"endpoint": "http://127.0.0.1:9000", "secret_id": "id", "secret_key": "key"},
        "tenants": [{"appid": 1250000000, "legacy_keys": [{"secret_id": "AKID", "secret_key": "k"}]}],
        "store": store,
    }


def problems_of(store: dict[str, object]) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings(minimal(store))
    return {p.path: p.expected for p in caught.value.problems}


def test_postgres_store_with_password_from_a_file_and_pool(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    settings = parse_settings(
        minimal({"url": "postgresql://proxy@db:5432/v1", "password_file": str(secret), "pool_min": 2, "pool_max": 3})
    )
    assert settings.store.password is not None and settings.store.password.get_secret_value() == "s3cret"
    assert (settings.store.pool_min, settings.store.pool_max) == (2, 3)
    assert "s3cret" not in repr(settings)


def test_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORE_PW", "from-env")
    settings = parse_settings(minimal({"url": "postgresql://proxy@db/v1", "password_env": "STORE_PW"}))
    assert settings.store.password is not None and settings.store.password.get_secret_value() == "from-env"


@pytest.mark.parametrize(
    ("store", "path", "expected"),
    [
        ({"url": "mysql://x"}, "store.url", "a sqlite:///PATH, sqlite://:memory: or postgresql://USER@HOST"),
        ({"url": "postgresql://u:pw@db/v1"}, "store.url", "a URL without a password: give it as store.password_env"),
        ({"url": "sqlite:///x.db", "password": "p"}, "store", "store.password only with a postgresql:// URL"),
        ({"url": "postgresql://u@db/v1", "pool_min": 5, "pool_max": 2}, "store", "store.pool_min (5) <="),
        ({"url": "postgresql://u@db/v1", "pool_max": 0}, "store.pool_max", "Input should be greater"),
        ({"url": "postgresql://u@db/v1", "password_env": "V1P_SURELY_UNSET"}, "store.password_env",
         "environment variable V1P_SURELY_UNSET to be set"),
        ({"url": "postgresql://u@db/v1", "password": "a", "password_env": "B"}, "store.password",
         "only one of password, password_env"),
    ],
)  # fmt: skip
def test_bad_store_settings_are_named(store: dict[str, object], path: str, expected: str) -> None:
    problems = problems_of(store)
    assert path in problems, problems
    assert problems[path].startswith(expected)


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(minimal({"url": url})))
    return path


VERSION_OF = {"sqlite": "PRAGMA user_version", "postgresql": "SELECT version FROM v1proxy_schema"}


async def test_migrate_store_command_creates_the_schema(backend: Backend, tmp_path: Path) -> None:
    config = _config(tmp_path, backend.url)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "proxy", "migrate-store", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"store schema at version {SCHEMA_VERSION} (1: persons and faces; 2: write journal")
    assert await backend.fetchval(VERSION_OF[backend.kind]) == SCHEMA_VERSION


def test_migrate_store_reports_an_unreachable_server(tmp_path: Path) -> None:
    config = _config(tmp_path, "postgresql://postgres@127.0.0.1:1/none")
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "migrate-store", "--config", str(config)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("migrate-store: cannot open store 'postgresql://postgres@127.0.0.1:1/none'")
    assert "Traceback" not in done.stderr


def test_journal_settings_are_validated() -> None:
    data = minimal({"url": "sqlite:///x.db"})
    data["journal"] = {"settle_after_s": -1, "lease_s": 0, "sweep_interval_s": 0, "surprise": 1}
    with pytest.raises(SettingsError) as caught:
        parse_settings(data)
    problems = {p.path: p.expected for p in caught.value.problems}
    assert set(problems) == {"journal.settle_after_s", "journal.lease_s", "journal.surprise"}
    data["journal"] = {"settle_after_s": 0.5, "lease_s": 2, "sweep_interval_s": 0}
    journal = parse_settings(data).journal
    got = (journal.settle_after_s, journal.lease_s, journal.sweep_interval_s, journal.keep_done_s)
    assert got == (0.5, 2, 0, 86400)
