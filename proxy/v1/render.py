"""v1 JSON responses: a result as ``{"code": 0, "message": "OK", "data": {...}}``, an error likewise.

Each value is written with the JSON type its result field declares (the seeds' types): floats stay
floats (``similarity`` 100 -> ``100.0``), ints are ints, bools are bools, tuples become lists.
``data.session_id`` is present in every answer, also for ops whose seed samples omit it.
"""

from __future__ import annotations

import dataclasses
import functools
import http
import json
import operator
import typing
from collections.abc import Callable
from typing import Any

from aiohttp import web

from proxy.domain.results import INLINE
from proxy.v1.errors import V1Error
from proxy.v1.results import V1Result

JSON_CONTENT_TYPE = "application/json"
_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False)  # what json.dumps(...) would build per call


Converter = Callable[[Any], Any]
Getter = Callable[[Any], Any]
_FIELDS: dict[type, tuple[tuple[str, Getter, Converter], ...]] = {}


def _converter(hint: Any) -> Converter:
    """How a value of a field typed ``hint`` becomes its JSON value (worked out once per field)."""
    if hint is bool:
        return bool
    if hint is float:
        return float
    if hint is int:
        return lambda value: round(value) if isinstance(value, float) else int(value)
    if hint is str:
        return str
    if typing.get_origin(hint) is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        item = _converter(item_hint)
        return lambda values: [item(v) for v in values]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _fields
    raise TypeError(f"no v1 wire form for {hint!r}")


def _plan(cls: type, prefix: str = "") -> tuple[tuple[str, Getter, Converter], ...]:
    """(JSON name, attribute getter, converter) per field, in order; an INLINE field's fields take its place."""
    hints = typing.get_type_hints(cls)
    plan: list[tuple[str, Getter, Converter]] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get(INLINE):
            plan += _plan(hints[f.name], f"{prefix}{f.name}.")
        else:
            plan.append((f.name, operator.attrgetter(prefix + f.name), _converter(hints[f.name])))
    return tuple(plan)


def _fields(obj: Any) -> dict[str, Any]:
    cls = type(obj)
    plan = _FIELDS.get(cls)
    if plan is None:
        plan = _FIELDS[cls] = _plan(cls)
    return {name: convert(get(obj)) for name, get, convert in plan}


def result_body(result: V1Result) -> dict[str, Any]:
    """The JSON document of a successful v1 answer."""
    return {"code": 0, "message": "OK", "data": _fields(result)}


def error_body(error: V1Error, session_id: str = "") -> dict[str, Any]:
    """The JSON document of a v1 error answer."""
    data: dict[str, Any] = {"session_id": error.session_id or session_id}
    if error.fail_flag is not None:
        data["fail_flag"] = int(error.fail_flag)
    return {"code": int(error.code), "message": error.message, "data": data}


def _response(body: dict[str, Any], status: int) -> web.Response:
    text = _ENCODER.encode(body)
    return web.Response(text=text, status=status, content_type=JSON_CONTENT_TYPE, charset="utf-8")


def render_result(result: V1Result) -> web.Response:
    return _response(result_body(result), 200)


def render_error(error: V1Error, session_id: str = "") -> web.Response:
    return _response(error_body(error, session_id), error.http_status)


@functools.lru_cache(maxsize=256)  # the header checks' refusals are few (code, message) pairs: each rendered once
def _raw_error_parts(code: int, message: str, fail_flag: int | None) -> tuple[bytes, bytes]:
    error = V1Error(code, message, fail_flag=fail_flag)
    body = json.dumps(error_body(error), ensure_ascii=True, allow_nan=False).encode("ascii")
    status = error.http_status
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        f"Content-Type: {JSON_CONTENT_TYPE}; charset=utf-8\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    )
    return head.encode("ascii"), body


def raw_error(error: V1Error, *, request_id: str) -> bytes:
    """`render_error`'s answer as the bytes of a complete HTTP/1.1 response that closes the connection, for
    writing straight to a transport (no aiohttp request or response object); ``request_id`` printable ASCII.

    For the refusals made on a request's head (no ``session_id``: no upstream call was made)."""
    if error.session_id:
        raise ValueError("raw_error renders refusals made before any upstream call (no session_id)")
    head, body = _raw_error_parts(int(error.code), error.message, error.fail_flag)
    return b"%sX-Request-Id: %s\r\n\r\n%s" % (head, request_id.encode("ascii"), body)
