"""limits.quota_qps and limits.quota_burst: the upstream quota a running proxy applies to its v3 calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.test_settings_take_effect import b64, post
from tests.v1.stack import Running, running


async def together(run: Running, count: int) -> list[int]:
    """v1 codes of `count` compare requests sent at once (one v3 CompareFace each, in the compare group)."""
    pair = {"imageA": b64(1, 0), "imageB": b64(1, 1)}
    replies = await asyncio.gather(*(post(run, "compare", pair) for _ in range(count)))
    return sorted(reply["code"] for reply in replies)


async def codes_under(tmp_path: Path, count: int, **limits: Any) -> list[int]:
    async with running(tmp_path, limits={"quota_wait_ms": 100, **limits}) as run:
        return await together(run, count)


async def test_limits_quota_qps_is_every_groups_rate(tmp_path: Path) -> None:
    """At 1 call/s the next slot is 1 s away, past the 0.1 s wait: the app gets 15; at 50/s it is 20 ms."""
    assert await codes_under(tmp_path / "1", 3, quota_qps=1) == [0, 15, 15]
    assert await codes_under(tmp_path / "50", 3, quota_qps=50) == [0, 0, 0]
    assert await codes_under(tmp_path / "0", 3, quota_qps=0) == [0, 0, 0]  # 0: no quota


async def test_limits_quota_burst_is_how_many_calls_go_at_once(tmp_path: Path) -> None:
    assert await codes_under(tmp_path / "3", 4, quota_qps=1, quota_burst=3) == [0, 0, 0, 15]
    assert await codes_under(tmp_path / "1", 4, quota_qps=1, quota_burst=1) == [0, 15, 15, 15]
