"""The live path in-process: a v1 op run by the same op table, services and tenant scope as a proxied request."""

from __future__ import annotations

from typing import TypeVar

from proxy.domain.codes import V1Error
from proxy.domain.requests import Target, V1Request
from proxy.domain.results import V1Result
from proxy.handlers.boundary import to_v1_error
from proxy.handlers.context import Services
from proxy.handlers.journal import outcome_unknown
from proxy.handlers.ops import Op
from proxy.translate.v3api import CONCURRENT_WRITE
from proxy.v3.client import throttled
from proxy.v3.errors import UPSTREAM_QUOTA, V3Error

Req = TypeVar("Req", bound=V1Request)
Res = TypeVar("Res", bound=V1Result)

# v3 answers that say "not now" rather than "not this": the call may succeed if sent again
RETRYABLE_CODES = frozenset({UPSTREAM_QUOTA, "FailedOperation.RpcFail", *CONCURRENT_WRITE})


class UpstreamError(V1Error):
    """A v3 error, as the v1 error the proxy would answer, remembering whether it was transient.

    `transient`: v3 (or the way to it) failed, not the request: an internal error, a timeout, a
    dropped connection, a malformed reply, contention. Sent again later it may succeed, but a write
    may also have been applied (`outcome_unknown`: never said of a read): v3 must be read before it
    is sent again.
    """

    def __init__(self, mapped: V1Error, *, transient: bool, outcome_unknown: bool, v3_code: str) -> None:
        super().__init__(mapped.code, mapped.message, fail_flag=mapped.fail_flag, session_id=mapped.session_id)
        self.transient = transient
        self.outcome_unknown = outcome_unknown
        self.v3_code = v3_code


def transient(exc: V3Error) -> bool:
    """Whether a v3 error is worth sending the request again for (a permanent refusal is not)."""
    return outcome_unknown(exc) or throttled(exc.code) or exc.code in RETRYABLE_CODES


def _reads(action: str) -> bool:
    """v3's read actions (GetPersonBaseInfo, GetPersonList, ...): no outcome to settle."""
    return action.startswith("Get")


class LiveOps:
    """Runs v1 ops exactly as the proxy serves them (v3 errors come back as UpstreamError, a V1Error)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def run(self, op: Op[Req, Res], target: Target, request: Req) -> Res:
        services = self.services
        try:
            return await op.handle(request, services, services.scope(target))
        except V3Error as exc:
            raise UpstreamError(
                to_v1_error(exc, services.errors),
                transient=transient(exc), outcome_unknown=outcome_unknown(exc) and not _reads(exc.action),
                v3_code=exc.code,
            ) from None  # fmt: skip
