"""v3 wire format: the JSON envelope, exact Content-Type, and typed access to request parameters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from proxy.emulator.exceptions import EmulatorError, invalid_parameter, missing_parameter

CONTENT_TYPE = "application/json"  # exactly: the SDK ignores error envelopes under any other value

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def new_request_id() -> str:
    return str(uuid.uuid4())


def reply(body: bytes) -> web.Response:
    """A 200 reply whose Content-Type header is exactly `application/json` (no charset)."""
    response = web.Response(body=body, status=200)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def encode_success(payload: Mapping[str, Any], request_id: str) -> bytes:
    return _dumps({"Response": {**payload, "RequestId": request_id}}).encode("utf-8")


def encode_error(error: EmulatorError, request_id: str) -> bytes:
    body = {"Response": {"Error": {"Code": error.code, "Message": error.message}, "RequestId": request_id}}
    return _dumps(body).encode("utf-8")


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; an empty body is an empty object."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EmulatorError("InvalidParameter", f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EmulatorError("InvalidParameter", "The request body must be a JSON object.")
    return data


class Params:
    """Typed, checked access to one request's parameters (raw dict at the wire edge only)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def reject_unknown(self, allowed: frozenset[str]) -> None:
        for name in self._data:
            if name not in allowed:
                raise EmulatorError("UnknownParameter", f"The parameter `{name}` is not recognized.")

    def has(self, name: str) -> bool:
        return self._data.get(name) is not None

    def _get(self, name: str, required: bool) -> Any:
        value = self._data.get(name)
        if value is None and required:
            raise missing_parameter(name)
        return value

    def req_str(self, name: str) -> str:
        value = self._get(name, True)
        if not isinstance(value, str):
            raise invalid_parameter(name, "a string")
        return value

    def opt_str(self, name: str, default: str | None = None) -> str | None:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, str):
            raise invalid_parameter(name, "a string")
        return value

    def opt_int(self, name: str, default: int) -> int:
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_parameter(name, "an integer")
        return value

    def req_int(self, name: str) -> int:
        value = self._get(name, True)
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid_parameter(name, "an integer")
        return value

    def opt_float(self, name: str, default: float) -> float:
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid_parameter(name, "a number")
        return float(value)

    def str_list(self, name: str) -> list[str]:
        value = self._get(name, True)
        return _str_list(name, value)

    def opt_str_list(self, name: str) -> list[str] | None:
        value = self._get(name, False)
        return None if value is None else _str_list(name, value)

    def opt_indexed_texts(self, name: str, index_key: str, text_key: str) -> list[tuple[int, str]] | None:
        """A list of `{index_key: int, text_key: str}` objects, as (index, text) pairs."""
        value = self._get(name, False)
        if value is None:
            return None
        if not isinstance(value, list):
            raise invalid_parameter(name, "an array of objects")
        pairs: list[tuple[int, str]] = []
        for item in value:
            if not isinstance(item, dict):
                raise invalid_parameter(name, "an array of objects")
            index, text = item.get(index_key), item.get(text_key)
            if index is None:
                raise missing_parameter(f"{name}.{index_key}")
            if isinstance(index, bool) or not isinstance(index, int):
                raise invalid_parameter(f"{name}.{index_key}", "an integer")
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise invalid_parameter(f"{name}.{text_key}", "a string")
            pairs.append((index, text))
        return pairs


def _str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_parameter(name, "an array of strings")
    return list(value)
