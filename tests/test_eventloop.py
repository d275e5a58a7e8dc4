"""The loop a command runs on: uvloop by default, asyncio's own when configured."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from proxy import eventloop
from proxy.settings import parse_settings


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_by_default_and_asyncio_on_request() -> None:
    assert eventloop.run(loop_type()) is uvloop.Loop
    assert not issubclass(eventloop.run(loop_type(), loop="asyncio"), uvloop.Loop)


@pytest.mark.parametrize("name", ["uvloop", "asyncio"])
def test_listen_event_loop_setting(name: str) -> None:
    settings = parse_settings(
        {
            "listen": {"event_loop": name},
            "upstream": {"secret_id": "id", "secret_key": "key"},
            "tenants": [{"appid": "1", "legacy_keys": [{"secret_id": "a", "secret_key": "b"}]}],
        }
    )
    assert settings.listen.event_loop == name
