"""Handlers end to end: ops run through the entry point (run_op) against the real emulator, faults per request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

from proxy import logs
from proxy.app import RUNTIME
from proxy.commands.demo import DEMO_APPID, DEMO_BUCKET, Stack, start_stack
from proxy.domain.requests import ImageSource, Target
from proxy.domain.results import V1Result
from proxy.emulator.synthetic import subject_photo
from proxy.handlers.context import Services
from proxy.handlers.ops import Op, run_op
from proxy.translate.scope import Scope
from proxy.v3.client import V3CallRecord

Res = TypeVar("Res", bound=V1Result)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def photo(subject: int, index: int) -> ImageSource:
    return ImageSource(data=subject_photo(subject, index))


@dataclass
class World:
    """A proxy and its emulator; ops are run in-process, as the backfill tool and the migration router do."""

    stack: Stack

    @property
    def services(self) -> Services:
        return self.stack.proxy.app[RUNTIME].current.services

    @property
    def scope(self) -> Scope:
        return self.services.scope(Target(DEMO_APPID, DEMO_BUCKET))

    async def run(self, op: Op[Any, Res], request: Any) -> Res:
        return await run_op(op, request, self.services, self.scope)

    async def run_recorded(self, op: Op[Any, Res], request: Any) -> tuple[Res, list[V3CallRecord]]:
        """Run an op and return the v3 calls it made (the access log's record)."""
        calls = logs.start_request()
        return await self.run(op, request), calls

    async def fail(self, action: str, code: str, *, skip: int = 0, times: int = 1) -> None:
        """Arm an emulator fault rule: after `skip` calls of `action` pass, the next `times` answer `code`."""
        rule = {"action": action, "code": code, "skip": skip, "times": times}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.stack.emulator.url}/_emulator/rules", json={"rules": [rule]}) as answer,
        ):
            assert answer.status == 200, await answer.text()

    async def pending_rules(self) -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.stack.emulator.url}/_emulator/rules") as answer:
            rules: list[dict[str, Any]] = (await answer.json())["rules"]
            return rules


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    stack = await start_stack(store_url=f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        yield World(stack)
    finally:
        await stack.close()
