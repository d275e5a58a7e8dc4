"""create_app(settings) -> the proxy's aiohttp application: routes, services, clean-up."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler as RequestHandler

from proxy import logs
from proxy.config import Compiled, compile_settings
from proxy.domain.requests import V1Call
from proxy.domain.results import V1Result
from proxy.handlers.context import PersonLocks, Services
from proxy.handlers.journal import JournalPolicy
from proxy.handlers.ops import OPS, Op, run_op
from proxy.handlers.reconcile import run_sweeper
from proxy.heap import HeapTrimmer
from proxy.limits.backends import Limits, open_limits
from proxy.metrics import Metrics, observed
from proxy.migration.engine import MigrationEngine
from proxy.migration.ledger_open import open_ledger
from proxy.migration.metrics import MigrationMetrics
from proxy.migration.recorder import ComparisonMetrics, ComparisonRecorder
from proxy.migration.scoretap import tap_observer
from proxy.migration.shadowing import ShadowComparer
from proxy.settings import Settings
from proxy.store import PoolOptions, open_store
from proxy.store.base import FaceStore
from proxy.v1.admission import BodyBudget, TenantSlots
from proxy.v1.auth import Keyring, SignatureClaims, check_single_use, verify_header
from proxy.v1.errors import V1Error
from proxy.v1.form import BodyPace
from proxy.v1.render import raw_error
from proxy.v1.routes import (
    REQUEST_ID,
    V1_CALL,
    V1_CODE,
    V1_CUT,
    V1_TENANT,
    Authenticator,
    Inbound,
    InboundLimits,
    Verbatim,
    error_middleware,
    head_gate,
    new_request_id,
    v1_routes,
)
from proxy.v1.server import ConnectionLimits, GuardedRunner, Refusal
from proxy.v3.client import V3CallRecord, V3Client, make_session
from proxy.v3.credentials import static_credentials

log = structlog.get_logger("proxy")


@dataclass(frozen=True)
class Runtime:
    """What a configuration turns into at run time, on the open session and store; swapped whole on reload."""

    compiled: Compiled
    services: Services
    limits: Limits  # the process's replay guard and upstream quota: kept across reloads
    inbound: InboundLimits

    @property
    def settings(self) -> Settings:
        return self.compiled.settings

    @property
    def keyring(self) -> Keyring:
        return self.compiled.keyring


class RuntimeHolder:
    """The app's current Runtime: set in the app before it freezes; a reload swaps `current`, never the app."""

    __slots__ = ("_current",)

    def __init__(self, current: Runtime | None = None) -> None:
        self._current = current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> Runtime:
        if self._current is None:
            raise RuntimeError("the proxy's runtime is not built yet (the app has not started)")
        return self._current

    def swap(self, runtime: Runtime) -> None:
        self._current = runtime


SETTINGS = web.AppKey("settings", Settings)
STARTUP = web.AppKey("startup_config", Compiled)
RUNTIME = web.AppKey("runtime", RuntimeHolder)
PROCESS_SHARE = web.AppKey("process_share", float)  # this process's part of the quota when pacing alone
BODY_BUDGET = web.AppKey("body_budget", BodyBudget)
METRICS = web.AppKey("metrics", Metrics)
SESSION = web.AppKey("v3_session", aiohttp.ClientSession)
MIGRATION = web.AppKey("migration", MigrationEngine)
COMPARISONS = web.AppKey("shadow_comparisons", ComparisonMetrics)

REQUEST_ID_HEADER = "X-Request-Id"
_GOOD_REQUEST_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?")


def _verify_header(runtime: Runtime, authorization: str | None, now: float) -> SignatureClaims:
    """What the Authorization header alone proves, with the runtime's keyring and auth settings."""
    auth = runtime.settings.auth
    return verify_header(
        authorization,
        keyring=runtime.keyring,
        now=now,
        max_validity_s=auth.max_signature_validity_s,
        single_use_window_s=auth.single_use_window_s,
    )


def _authenticator(holder: RuntimeHolder) -> Authenticator:
    """Checks a request's Authorization header against the current runtime (read per call: reloads swap it)."""

    async def authenticate(authorization: str | None) -> SignatureClaims:
        runtime = holder.current
        auth = runtime.settings.auth
        now = time.time()
        claims = _verify_header(runtime, authorization, now)
        if claims.single_use:
            await check_single_use(claims, runtime.limits.replay, window_s=auth.single_use_window_s, now=now)
        return claims

    return authenticate


def _server(
    holder: RuntimeHolder, engine: MigrationEngine
) -> Callable[[Op[Any, Any], V1Call, Inbound], Awaitable[V1Result | Verbatim]]:
    """Runs one parsed v1 call with the current runtime (read per request: reloads swap it); with a legacy
    backend configured, the migration engine decides which backend answers."""

    def serve(op: Op[Any, Any], call: V1Call, inbound: Inbound) -> Awaitable[V1Result | Verbatim]:
        runtime = holder.current
        if runtime.settings.migration.legacy is None:
            services = runtime.services
            return run_op(op, call.request, services, services.scope(call.target))
        return engine.serve(op, call, inbound)

    return serve


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-Id when printable ASCII of at most 128 characters, else a fresh one."""
    if header is not None and _GOOD_REQUEST_ID.fullmatch(header):
        return header
    return new_request_id()


@web.middleware
async def observe(request: web.Request, handler: RequestHandler) -> web.StreamResponse:
    """Outermost: X-Request-Id in (or made) and out, bound into every log event; the request's metrics;
    one access-log event per request: appid, op, v1 code, the v3 calls with codes and RequestIds, latency."""
    request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    request[REQUEST_ID] = request_id
    metrics = request.app[METRICS]
    op = request.match_info.get("op")
    started = time.perf_counter()
    calls = logs.start_request()
    response: web.StreamResponse | None = None
    # bound/unbound by hand, not with context managers: this runs around every request
    bound = structlog.contextvars.bind_contextvars(request_id=request_id)
    serving = metrics.begin(op)
    try:
        try:
            response = await handler(request)
        finally:
            seconds = time.perf_counter() - started
            call = request.get(V1_CALL)
            appid = call.target.appid if call else request.get(V1_TENANT, "")
            code = request.get(V1_CODE)
            cut = request.get(V1_CUT)
            metrics.observe_request(appid=appid, op=op, code=code, seconds=seconds, cut=cut)
            if response is not None:
                _access_log(
                    request_id, op or request.path, appid, code if cut is None else cut, response.status, calls, seconds
                )
    finally:
        metrics.end(serving)
        structlog.contextvars.reset_contextvars(**bound)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _access_log(
    request_id: str, op: str, appid: str, code: int | str | None, status: int, calls: list[V3CallRecord], seconds: float
) -> None:
    """The one access-log event of a request."""
    log.info(
        "request",
        request_id=request_id,
        op=op,
        appid=appid,
        v1_code=code,
        status=status,
        v3=[
            {"action": c.action, "code": c.code or "OK", "request_id": c.request_id, "ms": round(c.seconds * 1000, 2)}
            for c in calls
        ],
        ms=round(seconds * 1000, 2),
    )


def head_refusal(app: web.Application) -> Refusal:
    """The listener's refusal on a request's head (proxy.v1.server): a signature or declared length the
    route would refuse before reading the body (`head_gate`), answered as the route would (status, v1
    JSON, X-Request-Id) with the same access-log event and metrics, without an aiohttp request."""
    holder, metrics = app[RUNTIME], app[METRICS]
    gate = head_gate(
        ops=OPS,
        limits=lambda: holder.current.inbound,
        verify=lambda authorization: _verify_header(holder.current, authorization, time.time()),
    )

    def refuse(method: str, path: str, headers: Mapping[str, str]) -> bytes | None:
        started = time.perf_counter()
        refused = gate(method, path, headers)
        if refused is None:
            return None
        op, error = refused
        request_id = request_id_from(headers.get(REQUEST_ID_HEADER))
        answer = raw_error(error, request_id=request_id)
        seconds = time.perf_counter() - started
        metrics.observe_request(appid="", op=op, code=error.code, seconds=seconds)
        _access_log(request_id, op, "", error.code, error.http_status, [], seconds)
        return answer

    return refuse


def build_runtime(
    compiled: Compiled,
    *,
    session: aiohttp.ClientSession,
    store: FaceStore,
    metrics: Metrics,
    previous: Runtime | None = None,
    limits: Limits | None = None,
) -> Runtime:
    """The runtime of a compiled configuration on an open session and store (cannot fail: compiling did).

    `limits` (replay guard, upstream quota) live as long as the process: a reload keeps the previous
    runtime's and only gives the quota its new budgets."""
    settings = compiled.settings
    if limits is None:
        if previous is None:
            raise ValueError("build_runtime needs the process's limits (or a previous runtime)")
        limits = previous.limits
    limits.quota.configure(compiled.quota)

    def on_call(record: V3CallRecord) -> None:
        logs.record_v3_call(record)
        metrics.observe_v3(record)

    services = Services(
        v3=V3Client(
            compiled.endpoint,
            static_credentials(compiled.credential),
            session,
            on_call=on_call,
            quota=limits.quota,
            quota_wait_s=settings.limits.quota_wait_ms / 1000,
        ),
        store=store,
        errors=compiled.errors,
        calibration=observed(compiled.calibration, tap_observer(metrics.observe_score)),
        tenant_calibrations={
            appid: observed(c, tap_observer(metrics.observe_score)) for appid, c in compiled.tenant_calibrations.items()
        },
        tenants=compiled.tenants,
        capture_face_attributes=settings.faces.capture_attributes,
        # writes in flight keep serialising against new ones
        locks=previous.services.locks if previous is not None else PersonLocks(),
        journal=JournalPolicy(
            settings.journal.settle_after_s,
            settings.journal.lease_s,
            settings.journal.sweep_interval_s,
            settings.journal.keep_done_s,
            settings.journal.retry_max_s,
        ),
    )
    metrics.bound(tenants=[t.appid for t in settings.tenants], v3_codes=compiled.errors.codes())
    return Runtime(compiled=compiled, services=services, inbound=inbound_limits(settings), limits=limits)


def open_configured_store(settings: Settings) -> Awaitable[FaceStore]:
    """Open (and migrate) the store the settings name, with its password and pool."""
    conf = settings.store
    password = conf.password.get_secret_value() if conf.password is not None else None
    pool = PoolOptions(conf.pool_min, conf.pool_max, conf.connect_timeout_s, conf.command_timeout_s)
    return open_store(conf.url, password=password, pool=pool)


async def _services(app: web.Application) -> AsyncIterator[None]:
    """Open the v3 session and the store, build the runtime; whatever was opened is closed on any failure."""
    compiled = app[STARTUP]
    async with AsyncExitStack() as opened:
        session = make_session(limit=compiled.settings.upstream.pool_size)
        opened.push_async_callback(session.close)
        store = await open_configured_store(compiled.settings)
        opened.push_async_callback(store.close)
        limits = open_limits(
            compiled.redis,
            compiled.quota,
            share=app[PROCESS_SHARE],
            replay_capacity_per_tenant=compiled.settings.limits.replay_capacity_per_tenant,
        )
        opened.push_async_callback(limits.close)
        if limits.warm_up is not None and not await limits.warm_up():
            log.warning("redis.unreachable", during="start", url=compiled.redis.url if compiled.redis else "")
        app[SESSION] = session
        app[RUNTIME].swap(build_runtime(compiled, session=session, store=store, metrics=app[METRICS], limits=limits))
        recorder = ComparisonRecorder(await open_ledger(compiled.settings), app[COMPARISONS])
        recorder.start()
        opened.push_async_callback(recorder.close)  # after the engine's close, which lets shadow tasks finish
        _shadow_comparer(app, recorder)
        await app[MIGRATION].start()
        opened.push_async_callback(app[MIGRATION].close)
        yield


async def _journal_sweeper(app: web.Application) -> AsyncIterator[None]:
    """The write journal's background sweeper (proxy.handlers.reconcile), stopped with the app."""
    holder = app[RUNTIME]
    task = asyncio.create_task(run_sweeper(lambda: holder.current.services), name="journal-sweeper")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _shadow_comparer(app: web.Application, recorder: ComparisonRecorder) -> None:
    """Hook the shadow's budget and comparison (reads, and dual writes as the outbox settles them) into the engine."""
    engine, holder = app[MIGRATION], app[RUNTIME]

    async def replay(inbound: Inbound) -> Verbatim:
        backend = holder.current.settings.migration.legacy
        if backend is None:
            raise LookupError("no legacy backend configured")
        return await engine.legacy.forward(backend, inbound)

    comparer = ShadowComparer(recorder, lambda: holder.current.settings, replay)
    engine.set_shadow_gate(comparer.admit)
    engine.add_observer(comparer.observe)
    engine.add_write_observer(comparer.observe_write)


def create_app(config: Settings | Compiled, *, process_share: float = 1.0) -> web.Application:
    """The proxy app; `config` compiled first when given as Settings (SettingsError: every problem, nothing opened).

    `process_share`: this process's part of the upstream quota when it paces itself (no Redis, or
    Redis down): 1/N for each of `serve --workers N`."""
    compiled = config if isinstance(config, Compiled) else compile_settings(config)
    settings = compiled.settings
    app = web.Application(
        middlewares=[observe, error_middleware],
        # the v1 layer enforces the configured limit itself (code 23) while streaming
        client_max_size=settings.limits.max_body_bytes + 64 * 1024,
    )
    app[SETTINGS] = settings
    app[STARTUP] = compiled
    app[PROCESS_SHARE] = process_share
    app[METRICS] = Metrics()
    app[COMPARISONS] = ComparisonMetrics(app[METRICS].registry)
    app[BODY_BUDGET] = budget = BodyBudget(settings.limits.body_budget_bytes, on_drained=HeapTrimmer().drained)
    app.cleanup_ctx.append(_services)
    app.cleanup_ctx.append(_journal_sweeper)
    holder = app[RUNTIME] = RuntimeHolder()
    authenticate = _authenticator(holder)
    engine = app[MIGRATION] = MigrationEngine(
        lambda: (holder.current.settings, holder.current.services), MigrationMetrics(app[METRICS].registry)
    )
    app.add_routes(
        v1_routes(
            ops=OPS,
            serve=_server(holder, engine),
            authenticate=lambda: authenticate,
            limits=lambda: holder.current.inbound,
            budget=budget,
            slots=TenantSlots(),
        )
    )
    return app


def inbound_limits(settings: Settings) -> InboundLimits:
    limits = settings.limits
    return InboundLimits(
        max_body_bytes=limits.max_body_bytes,
        max_fields=limits.max_fields,
        pace=BodyPace(
            min_rate=limits.body_min_rate_bytes_s, grace_s=limits.body_grace_s, timeout_s=limits.body_timeout_s
        ),
        budget_wait_s=limits.body_budget_wait_s,
        max_inflight_per_tenant=limits.max_inflight_per_tenant,
    )


def connection_limits(settings: Settings) -> ConnectionLimits:
    limits = settings.limits
    return ConnectionLimits(
        header_timeout_s=limits.header_timeout_s,
        keepalive_timeout_s=limits.keepalive_timeout_s,
        max_connections=limits.max_connections,
    )


def legacy_runner(app: web.Application, **kwargs: Any) -> GuardedRunner:
    """The runner of the legacy listener: the app behind the connection guard (timeouts, cap, v1 answers)."""
    metrics = app[METRICS]
    return GuardedRunner(
        app,
        connection_limits(app[SETTINGS]),
        on_event=metrics.observe_connection_event,
        refuse=head_refusal(app),
        **kwargs,
    )


__all__ = [
    "BODY_BUDGET",
    "METRICS",
    "MIGRATION",
    "RUNTIME",
    "SESSION",
    "SETTINGS",
    "STARTUP",
    "Runtime",
    "RuntimeHolder",
    "V1Error",
    "build_runtime",
    "create_app",
    "legacy_runner",
]
