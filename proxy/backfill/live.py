"""The live path in-process: a v1 op run by the same handler, services and tenant scope as a proxied request."""

from __future__ import annotations

from proxy.handlers.boundary import run_handler
from proxy.handlers.context import Services
from proxy.handlers.table import OP_HANDLERS
from proxy.v1.requests import V1Call
from proxy.v1.results import V1Result


class LiveOps:
    """Runs v1 calls exactly as the proxy serves them (V3 errors come back as V1Error)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def run(self, call: V1Call) -> V1Result:
        return await run_handler(OP_HANDLERS[call.op], call, self.services)
