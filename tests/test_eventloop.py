"""The loop a command runs on: uvloop by default, asyncio's own when configured."""

from __future__ import annotations

import asyncio

import uvloop

from proxy import eventloop


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_uvloop_by_default_and_asyncio_on_request() -> None:
    assert eventloop.run(loop_type()) is uvloop.Loop
    assert not issubclass(eventloop.run(loop_type(), loop="asyncio"), uvloop.Loop)
