"""The proxy's client of the legacy v1 backend: a verbatim forward of the app's request, and a reachability probe.

A forward sends the very bytes the app sent, with the app's own ``Authorization``, ``Content-Type``
and ``Host`` (so a request addressed to recognition.image.myqcloud.com stays one), to the same
path on the configured endpoint; the reply's status, body and ``Content-Type`` come back unchanged.
A backend that cannot be reached (refused, timed out, reset) raises `LegacyUnreachable`.
"""

from __future__ import annotations

import json

import aiohttp

from proxy.domain.codes import V1Error
from proxy.settings import LegacyBackend
from proxy.v1.routes import Inbound, Verbatim

UNPARSABLE_CODE = 213  # a legacy reply that is not v1 JSON: counted as an internal error


class LegacyUnreachable(Exception):
    """The legacy backend gave no HTTP answer (connection refused, reset, timed out)."""


def unreachable_error() -> V1Error:
    return V1Error(213, "internal error: the legacy v1 backend is unreachable")


def reply_code(body: bytes) -> int:
    """The ``code`` of a v1 JSON reply; 213 when the reply is not one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return UNPARSABLE_CODE
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else UNPARSABLE_CODE


class LegacyClient:
    """Forwards requests to the legacy backend over one pooled session (owned by the migration engine)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def forward(self, backend: LegacyBackend, inbound: Inbound) -> Verbatim:
        headers = {"Content-Type": inbound.content_type}
        if inbound.authorization is not None:
            headers["Authorization"] = inbound.authorization
        if inbound.host:
            headers["Host"] = inbound.host
        return await self.post(backend, inbound.path, inbound.body, headers)

    async def post(self, backend: LegacyBackend, path: str, body: bytes, headers: dict[str, str]) -> Verbatim:
        timeout = aiohttp.ClientTimeout(sock_connect=backend.connect_timeout, sock_read=backend.read_timeout)
        url = backend.endpoint.rstrip("/") + path
        try:
            async with self._session.post(url, data=body, headers=headers, timeout=timeout) as response:
                data = await response.read()
                content_type = response.headers.get("Content-Type", "application/json")
                return Verbatim(status=response.status, body=data, content_type=content_type, code=reply_code(data))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LegacyUnreachable(f"{type(exc).__name__} from {backend.endpoint}") from None

    async def reachable(self, backend: LegacyBackend) -> tuple[bool, str]:
        """Whether the backend answers HTTP at all (any status): readiness of the v1 side."""
        timeout = aiohttp.ClientTimeout(total=backend.connect_timeout + 1.0)
        try:
            async with self._session.get(backend.endpoint.rstrip("/") + "/", timeout=timeout) as response:
                await response.read()
                return True, f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return False, type(exc).__name__
