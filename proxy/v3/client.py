"""Signed IAI v3 calls over one pooled aiohttp session: TC3 headers, timeouts, the reply envelope."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload
from yarl import URL

from proxy.limits.quota import Priority, UpstreamQuota
from proxy.v3.body import JsonBody, decode_body, encode_body
from proxy.v3.credentials import CredentialSource
from proxy.v3.errors import UPSTREAM_BAD_RESPONSE, UPSTREAM_QUOTA, UPSTREAM_TIMEOUT, UPSTREAM_UNREACHABLE, V3Error
from proxy.v3.signer import authorization

CONTENT_TYPE = "application/json"
"""Sent and signed exactly as is: no charset parameter."""


class BodyPayload(Payload):
    """A multi-chunk JsonBody as an aiohttp request body: written slice by slice, never joined."""

    _autoclose = True  # nothing to close: the chunks are in memory

    def __init__(self, body: JsonBody) -> None:
        super().__init__(body, content_type=CONTENT_TYPE)
        self._size = body.size

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return bytes(self._value).decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        body: JsonBody = self._value
        left = body.size if content_length is None else content_length
        for piece in body.slices():
            if left <= 0:
                return
            await writer.write(piece[:left])
            left -= len(piece)


@dataclass(frozen=True, slots=True)
class V3Endpoint:
    """Where and how to reach v3: base URL (no path), region, service, API version, timeouts.

    ``read_timeout`` bounds each wait for bytes; ``deadline`` bounds the whole call (connect, send,
    the last byte of the reply), so an upstream that trickles a byte at a time is cut too."""

    url: str
    region: str
    service: str = "iai"
    version: str = "2020-03-03"
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    deadline: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"v3 endpoint must be an http(s) URL with a host, got {self.url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError(f"v3 endpoint must be a bare origin (https://host[:port]), got {self.url!r}")
        if self.connect_timeout <= 0 or self.read_timeout <= 0 or self.deadline <= 0:
            raise ValueError("v3 endpoint timeouts must be positive")

    @property
    def host(self) -> str:
        """host[:port] as the Host header and the canonical request carry it (port only if given)."""
        parts = urlsplit(self.url)
        hostname = parts.hostname or ""
        if ":" in hostname:  # IPv6 literal
            hostname = f"[{hostname}]"
        return hostname if parts.port is None else f"{hostname}:{parts.port}"


@dataclass(frozen=True, slots=True)
class V3Reply:
    """A successful v3 reply: the Response object minus RequestId, which is kept apart."""

    action: str
    request_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class V3CallRecord:
    """One finished v3 call, for logs and metrics: no parameters, no bodies."""

    action: str
    code: str  # "" on success
    request_id: str
    seconds: float


def throttled(code: str) -> bool:
    """A v3 answer that means "too many requests": nothing was done, the call may be sent again."""
    return code == "RequestLimitExceeded" or code.startswith("RequestLimitExceeded.")


class V3Client:
    """Calls v3 actions; one instance per process, sharing the process's pooled session.

    With a `quota`, every call first takes a slot of its interface group's budget, waiting at most
    `quota_wait_s`; a v3 RequestLimitExceeded is sent again (after a jittered pause, keeping its slot)
    while that same deadline allows. No slot in time: V3Error ProxyUpstream.QuotaExhausted (v1 15).
    """

    __slots__ = (
        "_clock",
        "_credentials",
        "_endpoint",
        "_host",
        "_on_call",
        "_quota_wait_s",
        "_session",
        "_timeout",
        "_upstream_quota",
        "_url",
    )

    def __init__(
        self,
        endpoint: V3Endpoint,
        credentials: CredentialSource,
        session: aiohttp.ClientSession,
        *,
        on_call: Callable[[V3CallRecord], None] | None = None,
        clock: Callable[[], float] = time.time,
        quota: UpstreamQuota | None = None,
        quota_wait_s: float = 2.0,
    ) -> None:
        self._endpoint = endpoint
        self._upstream_quota = quota
        self._quota_wait_s = quota_wait_s
        self._credentials = credentials
        self._session = session
        self._on_call = on_call
        self._clock = clock
        self._host = endpoint.host
        self._url = URL(endpoint.url).with_path("/")
        self._timeout = aiohttp.ClientTimeout(
            total=endpoint.deadline, sock_connect=endpoint.connect_timeout, sock_read=endpoint.read_timeout
        )

    @property
    def endpoint(self) -> V3Endpoint:
        return self._endpoint

    def build_request(self, action: str, params: Mapping[str, Any]) -> tuple[JsonBody, dict[str, str]]:
        """The exact body and headers of a call, signed at the clock's current second."""
        body = encode_body(params)
        timestamp = int(self._clock())
        credential = self._credentials()
        endpoint = self._endpoint
        headers = {
            "Authorization": authorization(
                credential=credential,
                service=endpoint.service,
                host=self._host,
                content_type=CONTENT_TYPE,
                timestamp=timestamp,
                payload_sha256=body.sha256,
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": action,
            "X-TC-Version": endpoint.version,
            "X-TC-Timestamp": str(timestamp),
        }
        if endpoint.region:
            headers["X-TC-Region"] = endpoint.region
        if credential.token:
            headers["X-TC-Token"] = credential.token
        return body, headers

    async def call(self, action: str, params: Mapping[str, Any]) -> V3Reply:
        """Call one v3 action; returns its reply or raises V3Error (envelope or transport failure)."""
        started = time.perf_counter()
        try:
            sending = self._send(action, params) if self._upstream_quota is None else self._admitted(action, params)
            reply = await sending
        except V3Error as exc:
            self._record(action, exc.code, exc.request_id, started)
            raise
        self._record(action, "", reply.request_id, started)
        return reply

    async def _admitted(self, action: str, params: Mapping[str, Any]) -> V3Reply:
        """Send within the upstream quota: a slot first, throttled answers retried until the deadline.

        A throttled try was not executed (nor counted) by v3, so its retry keeps the slot it had: it
        goes again after a jittered, growing pause rather than to the back of the queue."""
        quota = self._upstream_quota
        assert quota is not None
        deadline = time.monotonic() + self._quota_wait_s
        # an unlimited group admits at once: no coroutine to ask it (throttled answers are still retried)
        if not quota.unlimited(action) and not await quota.acquire(action, wait_s=deadline - time.monotonic()):
            raise V3Error(
                action, UPSTREAM_QUOTA, f"no slot of the upstream quota within {self._quota_wait_s * 1000:.0f} ms"
            )
        # a background tool (backfill) paces itself on v3's answers: it must see every throttled try
        background = quota.priority is Priority.BACKGROUND
        attempt = 0
        while True:
            sent = time.perf_counter()
            try:
                return await self._send(action, params)
            except V3Error as exc:
                attempt += 1
                pause = random.uniform(0.5, 1.0) * min(0.05 * 2**attempt, 0.5)
                if not throttled(exc.code) or background or time.monotonic() + pause >= deadline:
                    raise
                self._record(action, exc.code, exc.request_id, sent)  # the throttled try, in metrics and logs
            await asyncio.sleep(pause)

    def _record(self, action: str, code: str, request_id: str, started: float) -> None:
        if self._on_call is not None:
            self._on_call(V3CallRecord(action, code, request_id, time.perf_counter() - started))

    async def _send(self, action: str, params: Mapping[str, Any]) -> V3Reply:
        body, headers = self.build_request(action, params)
        data = body.chunks[0] if len(body.chunks) == 1 else BodyPayload(body)
        try:
            async with self._session.post(
                self._url, data=data, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as resp:
                status = resp.status
                raw = await resp.read()
        except TimeoutError:
            raise V3Error(action, UPSTREAM_TIMEOUT, "v3 upstream did not answer in time") from None
        except aiohttp.ClientConnectionError as exc:
            raise V3Error(action, UPSTREAM_UNREACHABLE, f"v3 upstream unreachable ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise V3Error(
                action, UPSTREAM_BAD_RESPONSE, f"v3 upstream reply unreadable ({type(exc).__name__})"
            ) from None
        return parse_reply(action, status, raw)


def parse_reply(action: str, status: int, raw: bytes) -> V3Reply:
    """Turn a reply body into a V3Reply, or raise V3Error for an error envelope or a malformed reply."""
    try:
        document = decode_body(raw)
    except ValueError:
        raise V3Error(action, UPSTREAM_BAD_RESPONSE, f"v3 upstream sent HTTP {status}, not JSON") from None
    response = document.get("Response") if isinstance(document, dict) else None
    if not isinstance(response, dict):
        raise V3Error(action, UPSTREAM_BAD_RESPONSE, f"v3 upstream answered HTTP {status} without a Response")
    request_id = response.pop("RequestId", "")
    if not isinstance(request_id, str):
        request_id = ""
    error = response.get("Error")
    if error is not None:
        code = error.get("Code") if isinstance(error, dict) else None
        if not isinstance(code, str) or not code:
            raise V3Error(action, UPSTREAM_BAD_RESPONSE, "v3 upstream error envelope has no Code", request_id)
        message = error.get("Message")
        raise V3Error(action, code, message if isinstance(message, str) else "", request_id)
    if status != 200:
        raise V3Error(action, UPSTREAM_BAD_RESPONSE, f"v3 upstream answered HTTP {status} without an error", request_id)
    return V3Reply(action, request_id, response)


def make_session(*, limit: int = 100) -> aiohttp.ClientSession:
    """The process's one pooled session for v3 (create it inside the app's cleanup_ctx, close it there)."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, keepalive_timeout=30.0)
    return aiohttp.ClientSession(connector=connector, raise_for_status=False, auto_decompress=True)
