"""HTTP routes: `POST /` runs the v3 pipeline (faults, auth, dispatch); `/_emulator/*` controls it."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from aiohttp import web

from proxy.emulator import auth
from proxy.emulator.actions import ACTIONS, ActionContext
from proxy.emulator.exceptions import EmulatorError
from proxy.emulator.faults import FaultConfig, FaultRule, Outcome
from proxy.emulator.runtime import Emulator
from proxy.emulator.wire import Params, encode_error, encode_success, new_request_id, parse_body, reply

API_VERSION = "2020-03-03"
EMULATOR = web.AppKey("emulator", Emulator)
log = logging.getLogger(__name__)

_FAULT_ERRORS: dict[Outcome, EmulatorError] = {
    Outcome.RATE_LIMITED: EmulatorError("RequestLimitExceeded", "The request rate exceeds the limit."),
    Outcome.INTERNAL_ERROR: EmulatorError("InternalError", "An internal error occurred (injected)."),
    Outcome.TIMEOUT: EmulatorError("FailedOperation.RequestTimeout", "The backend timed out (injected)."),
}
_MALFORMED_BODY = b'{"Response": {"RequestId": "truncated'


async def _serve(request: web.Request, emulator: Emulator, body: bytes, ctx: ActionContext) -> bytes:
    request_id = new_request_id()
    try:
        headers = request.headers
        secret_id = auth.verify(
            method=request.method,
            path=request.raw_path.split("?", 1)[0] or "/",
            query=request.query_string,
            headers=headers,
            body=body,
            credentials=emulator.credentials,
            now=int(time.time()),
        )
        auth.check_token(secret_id, headers.get("X-TC-Token"), emulator.tokens)
        auth.check_region(headers.get("X-TC-Region"), emulator.config.regions)
        action_name = headers.get("X-TC-Action")
        if not action_name:
            raise EmulatorError("MissingParameter", "The request is missing the header X-TC-Action.")
        action = ACTIONS.get(action_name)
        if action is None:
            raise EmulatorError("InvalidAction", f"The action `{action_name}` is not found.")
        version = headers.get("X-TC-Version")
        if version != API_VERSION:
            raise EmulatorError("NoSuchVersion", f"The API version `{version}` of `{action_name}` is not found.")
        content_type = headers.get("Content-Type", "")
        if not content_type.startswith("application/json"):
            raise EmulatorError("InvalidParameter", "The emulator accepts only Content-Type application/json.")
        params = Params(parse_body(body))
        params.reject_unknown(action.params)
        rule = emulator.rules.match(action_name)
        if rule is not None:
            raise EmulatorError(rule.code, rule.message)
        if not action.waits_itself:
            await ctx.wait()
        result = await action.handler(ctx, params)
        return encode_success(result, request_id)
    except EmulatorError as exc:
        await ctx.wait()
        return encode_error(exc, request_id)
    except Exception:
        log.exception("emulator handler failed")
        return encode_error(EmulatorError("InternalError", "An internal error occurred."), request_id)


async def api(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR]
    emulator.inflight += 1
    emulator.peak_inflight = max(emulator.peak_inflight, emulator.inflight)
    try:
        return await _api(request, emulator)
    finally:
        emulator.inflight -= 1


async def _api(request: web.Request, emulator: Emulator) -> web.StreamResponse:
    body = await request.read()
    decision = emulator.faults.decide()
    ctx = ActionContext(emulator.state, emulator.session, decision.delay_s)
    outcome = decision.outcome
    if outcome is not Outcome.SERVE:
        await ctx.wait()
        if outcome is Outcome.DROP:
            if request.transport is not None:
                request.transport.close()
            raise asyncio.CancelledError  # nothing is sent: the client sees the connection close
        if outcome is Outcome.MALFORMED:
            return reply(_MALFORMED_BODY)
        return reply(encode_error(_FAULT_ERRORS[outcome], new_request_id()))
    return reply(await _serve(request, emulator, body, ctx))


async def not_post(request: web.Request) -> web.Response:
    error = EmulatorError("UnsupportedProtocol", "The emulator speaks v3 over POST / with a JSON body.")
    return reply(encode_error(error, new_request_id()))


def _json(data: object, status: int = 200) -> web.Response:
    response = web.Response(body=json.dumps(data).encode("utf-8"), status=status)
    response.headers["Content-Type"] = "application/json"
    return response


async def get_faults(request: web.Request) -> web.Response:
    return _json(request.app[EMULATOR].faults.config.to_json())


async def set_faults(request: web.Request) -> web.Response:
    """Merge the posted settings into the current ones; `{"reset": true}` starts from none."""
    injector = request.app[EMULATOR].faults
    try:
        data = await request.json()
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        base = FaultConfig() if data.pop("reset", False) else injector.config
        config = FaultConfig.from_json(data, base)
    except ValueError as exc:
        return _json({"error": str(exc)}, status=400)
    injector.configure(config)
    return _json(config.to_json())


async def get_stats(request: web.Request) -> web.Response:
    """Since the last reset: under a QPS limit, requests admitted (monotonic times) and throttled; and the
    most v3 requests served at once (with HTTP/1.1, the most connections the client used at once)."""
    emulator = request.app[EMULATOR]
    faults = emulator.faults
    return _json(
        {
            "admitted_at": list(faults.admitted_at),
            "throttled": faults.throttled,
            "peak_inflight": emulator.peak_inflight,
        }
    )


async def reset_stats(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    emulator.faults.reset_stats()
    emulator.peak_inflight = emulator.inflight
    return _json({"reset": True})


async def get_rules(request: web.Request) -> web.Response:
    return _json({"rules": request.app[EMULATOR].rules.pending()})


async def add_rules(request: web.Request) -> web.Response:
    """Arm per-request rules: `{"rules": [{action, code, message?, skip?, times?}, ...]}`; `{"reset": true}` clears."""
    rules = request.app[EMULATOR].rules
    try:
        data = await request.json()
        if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
            raise ValueError('expected {"rules": [...]} and/or {"reset": true}')
        parsed = [FaultRule.from_json(r) for r in data.get("rules", [])]
    except ValueError as exc:
        return _json({"error": str(exc)}, status=400)
    if data.get("reset"):
        rules.clear()
    rules.add(parsed)
    return _json({"rules": rules.pending()})


async def reset(request: web.Request) -> web.Response:
    request.app[EMULATOR].reset()
    return _json({"reset": True})


async def health(request: web.Request) -> web.Response:
    state = request.app[EMULATOR].state
    return _json({"groups": len(state.groups), "persons": len(state.persons), "faces": len(state.face_ids)})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/", api)
    app.router.add_get("/", not_post)
    app.router.add_get("/_emulator/faults", get_faults)
    app.router.add_post("/_emulator/faults", set_faults)
    app.router.add_get("/_emulator/rules", get_rules)
    app.router.add_post("/_emulator/rules", add_rules)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_get("/_emulator/stats", get_stats)
    app.router.add_delete("/_emulator/stats", reset_stats)
    app.router.add_get("/_emulator/health", health)
