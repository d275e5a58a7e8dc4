"""Structured logs: one JSON event per request, with the v3 calls it made; never secrets or image bytes."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Literal

import orjson
import structlog
from structlog.typing import EventDict, WrappedLogger

from proxy.v3.client import V3CallRecord

_v3_log = structlog.get_logger("proxy.v3")

# The v3 calls made while serving the current request (each request runs in its own task/context).
_v3_calls: ContextVar[list[V3CallRecord] | None] = ContextVar("v3_calls", default=None)
# whether the configured level lets the per-call debug event through (checked before building it)
_v3_debug = True


def start_request() -> list[V3CallRecord]:
    calls: list[V3CallRecord] = []
    _v3_calls.set(calls)
    return calls


def record_v3_call(record: V3CallRecord) -> None:
    calls = _v3_calls.get()
    if calls is not None:
        calls.append(record)
    if not _v3_debug:
        return
    _v3_log.debug(
        "v3_call",
        action=record.action,
        v3_code=record.code or "OK",
        v3_request_id=record.request_id,
        ms=round(record.seconds * 1000, 2),
    )


def _json(event: object, **_options: object) -> str:
    return orjson.dumps(event, default=repr).decode("utf-8")


_stamp_time = structlog.processors.TimeStamper(fmt="iso", utc=True)


def _stamp(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog's add_log_level, TimeStamper(iso, UTC) and format_exc_info, in one call per event."""
    event_dict = _stamp_time(logger, method_name, structlog.processors.add_log_level(logger, method_name, event_dict))
    if "exc_info" in event_dict:
        event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
    return event_dict


def configure(fmt: Literal["json", "console", "auto"] = "auto", level: str = "info") -> None:
    """JSON in production; readable console output when run in a terminal (fmt=auto)."""
    global _v3_debug
    _v3_debug = logging.getLevelName(level.upper()) <= logging.DEBUG
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        if console
        else structlog.processors.JSONRenderer(serializer=_json)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _stamp,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),  # print() without its two writes
        cache_logger_on_first_use=True,
    )
