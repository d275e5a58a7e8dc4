"""The live path in-process: a v1 op run by the same op table, services and tenant scope as a proxied request."""

from __future__ import annotations

from typing import TypeVar

from proxy.domain.requests import Target, V1Request
from proxy.domain.results import V1Result
from proxy.handlers.context import Services
from proxy.handlers.ops import Op, run_op

Req = TypeVar("Req", bound=V1Request)
Res = TypeVar("Res", bound=V1Result)


class LiveOps:
    """Runs v1 ops exactly as the proxy serves them (v3 errors come back as V1Error)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def run(self, op: Op[Req, Res], target: Target, request: Req) -> Res:
        return await run_op(op, request, self.services, self.services.scope(target))
