"""Log format: JSON in production, readable console lines on a terminal (fmt=auto)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from proxy import logs


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    logs.configure("json", "warning")


@pytest.mark.parametrize("stream_type", [Terminal, Pipe])
def test_auto_format_follows_the_terminal(monkeypatch: pytest.MonkeyPatch, stream_type: type[io.StringIO]) -> None:
    stream = stream_type()
    monkeypatch.setattr("sys.stderr", stream)
    logs.configure("auto", "info")
    structlog.get_logger("test").info("request", op="verify", v1_code=0)
    line = stream.getvalue().strip()
    if stream_type is Terminal:
        assert "request" in line and "op" in line and not line.startswith("{")
    else:
        event = json.loads(line)
        assert event["event"] == "request" and event["op"] == "verify" and event["level"] == "info"


def test_level_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Pipe()
    monkeypatch.setattr("sys.stderr", stream)
    logs.configure("json", "warning")
    structlog.get_logger("test").info("hidden")
    structlog.get_logger("test").warning("shown")
    assert [json.loads(x)["event"] for x in stream.getvalue().splitlines()] == ["shown"]
