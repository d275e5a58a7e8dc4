"""create_app(settings) -> the proxy's aiohttp application: routes, services, clean-up."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import partial

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler as RequestHandler

from proxy import logs
from proxy.handlers.boundary import Handler, run_handler
from proxy.handlers.context import Services, TenantPolicy
from proxy.handlers.table import OP_HANDLERS
from proxy.settings import Settings
from proxy.store import open_store
from proxy.translate.errors import load_default_error_map
from proxy.translate.scores import calibration_from_config
from proxy.v1.auth import Keyring, LegacyKey, ReplayGuard, verify
from proxy.v1.errors import V1Error
from proxy.v1.requests import Target, V1Call
from proxy.v1.results import V1Result
from proxy.v1.routes import (
    REQUEST_ID,
    V1_CALL,
    V1_CODE,
    Authenticator,
    OpHandler,
    error_middleware,
    v1_routes,
)
from proxy.v3.client import V3Client, V3Endpoint, make_session
from proxy.v3.credentials import static_credentials
from proxy.v3.signer import Credential

log = structlog.get_logger("proxy")


@dataclass(frozen=True)
class Runtime:
    """What a configuration turns into at run time; swapped whole on reload."""

    settings: Settings
    services: Services
    keyring: Keyring


SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
REPLAY = web.AppKey("replay", ReplayGuard)


def keyring_of(settings: Settings) -> Keyring:
    keys = [
        LegacyKey(appid=t.appid, secret_id=k.secret_id, secret_key=k.secret_key.get_secret_value())
        for t in settings.tenants
        for k in t.legacy_keys
    ]
    return Keyring(keys, appids=[t.appid for t in settings.tenants])


def credential_of(settings: Settings) -> Credential:
    up = settings.upstream
    return Credential(
        secret_id=up.secret_id.get_secret_value(),
        secret_key=up.secret_key.get_secret_value(),
        token=up.token.get_secret_value() if up.token else None,
    )


def _authenticator(app: web.Application) -> Authenticator:
    runtime = app[RUNTIME]
    auth = runtime.settings.auth

    def authenticate(authorization: str | None, target: Target) -> None:
        verify(
            authorization,
            appid=target.appid,
            bucket=target.bucket,
            keyring=runtime.keyring,
            replay=app[REPLAY],
            now=time.time(),
            max_validity_s=auth.max_signature_validity_s,
            single_use_window_s=auth.single_use_window_s,
        )

    return authenticate


def _bound(app: web.Application, handler: Handler) -> OpHandler:
    async def serve(call: V1Call) -> V1Result:
        return await run_handler(handler, call, app[RUNTIME].services)

    return serve


@web.middleware
async def access_log(request: web.Request, handler: RequestHandler) -> web.StreamResponse:
    """One event per request: appid, op, v1 code, the v3 calls with codes and RequestIds, latency."""
    started = time.perf_counter()
    calls = logs.start_request()
    response = await handler(request)
    call = request.get(V1_CALL)
    log.info(
        "request",
        request_id=request.get(REQUEST_ID, ""),
        op=request.match_info.get("op", request.path),
        appid=call.target.appid if call else "",
        v1_code=request.get(V1_CODE),
        status=response.status,
        v3=[
            {
                "action": c.action,
                "code": c.code or "OK",
                "request_id": c.request_id,
                "ms": round(c.seconds * 1000, 2),
            }
            for c in calls
        ],
        ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return response


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = make_session(limit=settings.upstream.pool_size)
    store = await open_store(settings.store.url)
    up = settings.upstream
    endpoint = V3Endpoint(
        url=up.endpoint, region=up.region, connect_timeout=up.connect_timeout, read_timeout=up.read_timeout
    )
    errors = load_default_error_map()
    if settings.errors.overrides:
        errors = errors.merged(settings.errors.overrides)
    services = Services(
        v3=V3Client(
            endpoint, static_credentials(credential_of(settings)), session, on_call=logs.record_v3_call
        ),
        store=store,
        errors=errors,
        calibration=calibration_from_config(settings.scores.calibration, settings.scores.match_threshold),
        tenants={t.appid: TenantPolicy(isolated=t.isolated) for t in settings.tenants},
    )
    app[RUNTIME] = Runtime(settings=settings, services=services, keyring=keyring_of(settings))
    try:
        yield
    finally:
        await session.close()
        await store.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[access_log, error_middleware],
        # the v1 layer enforces the configured limit itself (code 23) while streaming
        client_max_size=settings.limits.max_body_bytes + 64 * 1024,
    )
    app[SETTINGS] = settings
    app[REPLAY] = ReplayGuard()
    app.cleanup_ctx.append(_services)
    handlers: Mapping[str, OpHandler] = {op: _bound(app, handler) for op, handler in OP_HANDLERS.items()}
    app.add_routes(
        v1_routes(
            handlers=handlers,
            authenticate=partial(_authenticator, app),
            max_body_bytes=lambda: app[RUNTIME].settings.limits.max_body_bytes,
        )
    )
    return app


__all__ = ["RUNTIME", "SETTINGS", "V1Error", "create_app"]
