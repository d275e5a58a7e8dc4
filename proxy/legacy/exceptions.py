"""Errors the legacy v1 service answers with: the v1 code, its message and HTTP status (one table).

The exception is the inbound layer's own `V1Error` (what `proxy.v1.auth` and `proxy.v1.form` raise
for signatures and bodies), so one type carries every legacy answer other than success. The HTTP
status of each code is `proxy.domain.codes.http_status_for`: the seeds never show v1's status line
for an error, and answering exactly as the proxy does keeps a route switch invisible on the wire.
"""

from __future__ import annotations

from proxy.domain.codes import V1Error, http_status_for

__all__ = [
    "V1Error",
    "bad_request",
    "face_not_found",
    "group_not_found",
    "http_status_for",
    "invalid_chars",
    "no_groups",
    "param_empty",
    "person_exists",
    "person_not_found",
    "too_long",
]


def bad_request(message: str) -> V1Error:
    return V1Error(3, f"bad request: {message}")


def param_empty(name: str) -> V1Error:
    return V1Error(-1301, f"parameter is empty: {name}")


def too_long(name: str, limit: int) -> V1Error:
    return V1Error(-1304, f"parameter too long: {name} (at most {limit} bytes)")


def invalid_chars(name: str) -> V1Error:
    return V1Error(-1313, f"invalid parameter: {name} contains a space, slash, tab or line break")


def person_exists(person_id: str) -> V1Error:
    return V1Error(-1302, f"person already exists: {person_id}")


def person_not_found(person_id: str) -> V1Error:
    return V1Error(-1303, f"person does not exist: {person_id}")


def face_not_found(face_id: str) -> V1Error:
    return V1Error(-1305, f"face does not exist: {face_id}")


def group_not_found(group_id: str) -> V1Error:
    return V1Error(-1306, f"group does not exist: {group_id}")


def no_groups() -> V1Error:
    return V1Error(-1307, "group list does not exist: this appid has no group")
