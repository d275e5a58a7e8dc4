"""A real emulator + proxy in the test's event loop, with settings a test chooses, and raw-socket helpers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcloud_image.auth import Auth

from proxy.commands.demo import DEMO_V3_ID, DEMO_V3_KEY, Stack, start_stack
from proxy.emulator.runtime import Emulator
from proxy.settings import parse_settings

TENANT_A = ("1250000001", "AKIDstackTenantA", "secret-of-stack-tenant-a")
TENANT_B = ("1250000002", "AKIDstackTenantB", "secret-of-stack-tenant-b")
BUCKET = "stack"


def signature(tenant: tuple[str, str, str] = TENANT_A, *, howlong: int = 3600) -> str:
    """A multi-use v1 signature as the legacy SDK makes it."""
    text: str = Auth(*tenant).get_sign(BUCKET, howlong).decode()
    return text


@dataclass
class Running:
    stack: Stack
    host: str
    port: int

    @property
    def url(self) -> str:
        return self.stack.proxy_url

    @property
    def emulator(self) -> Emulator:
        return self.stack.emulator.emulator


def settings_data(emulator_url: str, store: Path, /, **sections: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "listen": {"host": "127.0.0.1", "port": 0},
        "upstream": {"endpoint": emulator_url, "secret_id": DEMO_V3_ID, "secret_key": DEMO_V3_KEY},
        "tenants": [
            {"appid": appid, "legacy_keys": [{"secret_id": sid, "secret_key": key}]}
            for appid, sid, key in (TENANT_A, TENANT_B)
        ],
        "store": {"url": f"sqlite:///{store}"},
        "logging": {"format": "json", "level": "info"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


@asynccontextmanager
async def running(tmp_path: Path, /, **sections: Mapping[str, Any]) -> AsyncIterator[Running]:
    """Emulator + proxy on ephemeral ports; ``sections`` override/extend settings sections."""
    store = tmp_path / "meta.db"
    stack = await start_stack(
        store_url=f"sqlite:///{store}",
        settings_for=lambda url: parse_settings(settings_data(url, store, **sections)),
    )
    host, port = stack.proxy_url.removeprefix("http://").rsplit(":", 1)
    try:
        yield Running(stack, host, int(port))
    finally:
        await stack.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """(status, headers lower-cased, body) of the next HTTP/1.1 response (Content-Length framed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


async def exchange(run: Running, data: bytes, *, wait_s: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` on a fresh connection and read one response."""
    reader, writer = await asyncio.open_connection(run.host, run.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait_s):
            return await read_response(reader)
    finally:
        writer.close()


def v1_code(body: bytes) -> int:
    code = json.loads(body)["code"]
    assert isinstance(code, int)
    return code
