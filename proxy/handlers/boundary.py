"""The one place v3 errors become v1 errors, through the error map."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from proxy.handlers.context import Services
from proxy.translate.errors import ErrorMap
from proxy.v1.errors import V1Error
from proxy.v1.requests import V1Call
from proxy.v1.results import V1Result
from proxy.v3.errors import V3Error

Handler = Callable[[V1Call, Services], Awaitable[V1Result]]


def to_v1_error(error: V3Error, errors: ErrorMap, *, fail_flag: int | None = None) -> V1Error:
    mapped = errors.to_v1(error.code, error.message)
    return V1Error(mapped.code, mapped.message, fail_flag=fail_flag, session_id=error.request_id)


async def run_handler(handler: Handler, call: V1Call, services: Services) -> V1Result:
    try:
        return await handler(call, services)
    except V3Error as exc:
        raise to_v1_error(exc, services.errors) from None
