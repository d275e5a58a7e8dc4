"""The one place v3 errors become v1 errors, through the error map."""

from __future__ import annotations

from proxy.domain.codes import V1Error
from proxy.translate.errors import ErrorMap
from proxy.v3.errors import V3Error


def to_v1_error(error: V3Error, errors: ErrorMap, *, fail_flag: int | None = None) -> V1Error:
    mapped = errors.to_v1(error.code, error.message)
    return V1Error(mapped.code, mapped.message, fail_flag=fail_flag, session_id=error.request_id)
