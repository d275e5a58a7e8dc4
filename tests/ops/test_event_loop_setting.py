"""listen.event_loop through a running `v1proxy serve`: /healthz names the loop the process serves on."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from tests.ops.conftest import config, start_proxy, write_config


@pytest.mark.parametrize("name", ["uvloop", "asyncio"])
def test_listen_event_loop_setting_picks_the_loop_serve_runs_on(name: str, tmp_path: Path, fast_emulator: str) -> None:
    cfg = tmp_path / "proxy.yaml"
    data = config(fast_emulator, tmp_path / "meta.db")
    data["listen"]["event_loop"] = name
    write_config(cfg, data)
    proxy = start_proxy(cfg, tmp_path / "proxy.log")
    try:
        with urllib.request.urlopen(f"{proxy.admin_url}/healthz", timeout=10) as answer:  # noqa: S310 - loopback
            assert json.loads(answer.read())["event_loop"] == name
    finally:
        assert proxy.proc.stop() == 0
