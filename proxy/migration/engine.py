"""The staged-migration router: per request, the route's plan carried out -- who answers, what else happens.

Per request: the route of (tenant, op) -> the subject key -> is the subject known in v3 -> the
plan (`routes.plan`, pure) -> then:

- v1 side: the app's request forwarded verbatim (`legacy.LegacyClient`), the reply returned as is;
  a shadowed read also runs on v3 in the background (never awaited by the app's request); a
  successful write is owed to v3 through the outbox (durable before the app gets its answer).
- v3 side: the proxy's own op (`run_op`); a canary read failing with a transport or 5xx-class
  error is answered by v1 (fallback, counted); a successful write
  marks what v3 now holds and is owed to v1 (unless ``retire_v1``).
- One face-id space: a v3 answer names faces v1 minted first by their v1 ids (the outbox's face map),
  and v1 ids in delface/getfaceinfo served by v3 are turned into v3's.
- ``v1`` route: writes also make the person unknown in v3, so later v3-side reads go to v1 until
  v3 has it again.

THE COMPARATOR HOOK: every shadowed read ends in `MigrationEngine._shadow`, which builds one
`ShadowPair` -- the v1 reply exactly as the app got it and the v3 typed result (or the V1Error v3
answered) -- and hands it to each callback registered with `add_observer`. That is the one place
both answers are available. Writes: the outbox's replayer hands each owed write, once settled on its
target, to the callbacks registered with `add_write_observer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from proxy.domain.codes import V1Error
from proxy.domain.requests import DelFace, GetFaceInfo, GetInfo, V1Call
from proxy.domain.results import (
    AddFaceResult,
    DelFaceResult,
    FaceInfo,
    GetFaceIdsResult,
    GetFaceInfoResult,
    GetInfoResult,
    IdentifyResult,
    NewPersonResult,
    V1Result,
)
from proxy.handlers.context import Services
from proxy.handlers.ops import Op, run_op
from proxy.migration import outbox, scoretap, writes
from proxy.migration.legacy import LegacyClient, LegacyUnreachable, unreachable_error
from proxy.migration.metrics import MigrationMetrics
from proxy.migration.routes import (
    GROUP_OPS,
    PERSON_OPS,
    WRITE_OPS,
    Kind,
    Plan,
    Reason,
    Side,
    parse_route,
    plan,
    subject_key,
)
from proxy.settings import Settings
from proxy.translate.scope import Scope
from proxy.v1.routes import Inbound, Verbatim

SHADOW_WAIT_S = 5.0  # a shadowed read waits this long at most for the person's writes owed to v3
SHADOW_POLL_S = 0.02
log = structlog.get_logger("proxy.migration")


@dataclass(frozen=True)
class ShadowPair:
    """One shadowed read: the v1 reply the app got and what v3 answered for the same request."""

    tenant: str
    op: str
    call: V1Call
    v1: Verbatim
    v3_result: V1Result | None  # None when v3 refused (then v3_error says how)
    v3_error: V1Error | None
    known_in_v3: bool  # whether the proxy knew the subject to be in v3 (else a miss is expected)
    v3_behind: bool  # a write of this person was still owed to v3 when v3 answered (a difference is expected)
    v3_raw_scores: tuple[float, ...]  # the raw v3 Scores behind v3_result's scores (scoretap), in order
    v1_seconds: float
    v3_seconds: float
    inbound: Inbound  # the app's request as sent (a comparator may replay it to v1)


ShadowObserver = Callable[[ShadowPair], Awaitable[None]]
ShadowGate = Callable[[str, str], bool]  # (tenant, op) -> may a v3 twin run for this read (the shadow's budget)
RuntimeView = Callable[[], tuple[Settings, Services]]


def _subjects(request: Any) -> tuple[str | None, str | None]:
    return getattr(request, "person_id", None), getattr(request, "group_id", None)


def served_face_ids(result: V1Result | Verbatim, request: Any) -> tuple[str | None, ...]:
    """Per input image, the face id the serving side gave (newperson: one image; addface: each)."""
    if isinstance(result, NewPersonResult):
        return (result.face_id,)
    if isinstance(result, AddFaceResult):
        return outbox.per_image(result.ret_codes, result.face_ids)
    if isinstance(result, Verbatim):
        data = outbox.reply_data(result.body)
        if "face_id" in data:
            return (str(data["face_id"]),)
        if "ret_codes" in data:
            codes = tuple(int(c) for c in data["ret_codes"])
            return outbox.per_image(codes, tuple(str(f) for f in data.get("face_ids", ())))
    return ()


class MigrationEngine:
    """Routes v1 requests between the legacy backend and v3; owns the legacy session and the outbox replayer."""

    def __init__(self, runtime: RuntimeView, metrics: MigrationMetrics) -> None:
        self._runtime = runtime
        self.metrics = metrics
        self._session: aiohttp.ClientSession | None = None
        self._legacy: LegacyClient | None = None
        self._replayer: outbox.Replayer | None = None
        self._replayer_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._observers: list[ShadowObserver] = []
        self._write_observers: list[outbox.WriteObserver] = []
        self._gate: ShadowGate = lambda _tenant, _op: True

    # ---- life cycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._legacy = LegacyClient(self._session)
        self._replayer = outbox.Replayer(self._runtime, self._legacy, self.metrics, observers=self._write_observers)
        self._replayer_task = asyncio.create_task(self._replayer.run(), name="outbox-replayer")

    async def close(self) -> None:
        if self._replayer_task is not None:
            self._replayer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer_task
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        if self._session is not None:
            await self._session.close()

    @property
    def legacy(self) -> LegacyClient:
        if self._legacy is None:
            raise RuntimeError("the migration engine is not started")
        return self._legacy

    @property
    def replayer(self) -> outbox.Replayer:
        if self._replayer is None:
            raise RuntimeError("the migration engine is not started")
        return self._replayer

    def add_observer(self, observer: ShadowObserver) -> None:
        """Register a comparator: called with every `ShadowPair` (in the background, after the app's answer)."""
        self._observers.append(observer)

    def add_write_observer(self, observer: outbox.WriteObserver) -> None:
        """Register a dual-write comparator: called (in the outbox's task) with every owed write once it settles."""
        self._write_observers.append(observer)

    def set_shadow_gate(self, gate: ShadowGate) -> None:
        """Asked before each v3 twin is started; False: the read is answered by v1 alone (not shadowed)."""
        self._gate = gate

    async def legacy_ready(self) -> tuple[bool, str] | None:
        """Readiness of the legacy backend, or None when none is configured."""
        settings, _ = self._runtime()
        backend = settings.migration.legacy
        if backend is None:
            return None
        return await self.legacy.reachable(backend)

    # ---- one request ------------------------------------------------------------------------
    async def serve(self, op: Op[Any, Any], call: V1Call, inbound: Inbound) -> V1Result | Verbatim:
        settings, services = self._runtime()
        migration = settings.migration
        scope = services.scope(call.target)
        if migration.legacy is None:  # every route is v3 (check-config refuses others without a backend)
            served: V1Result = await run_op(op, call.request, services, scope)
            return served
        appid, name = call.target.appid, op.name
        route = parse_route(migration.route(appid, name))
        person_id, group_id = _subjects(call.request)
        face_id = getattr(call.request, "face_id", None)
        known = await self._known_in_v3(services, scope, name, person_id, group_id, face_id)
        fresh = await self._fresh_side(services, scope, person_id) if person_id is not None else None
        in_v1 = False
        retired = route.kind is Kind.V3 and migration.retire_v1(appid)
        if name == "newperson" and not known and fresh is None and not retired and route.kind in (Kind.CANARY, Kind.V3):
            in_v1 = await self._v1_has_person(settings, call, person_id)
        the_plan = plan(
            route,
            fresh_side=fresh,
            exists_in_v1=in_v1,
            appid=appid,
            op=name,
            subject=subject_key(name, person_id=person_id, group_id=group_id, body=inbound.body),
            known_in_v3=known,
            v1_configured=True,
            retire_v1=migration.retire_v1(appid),
        )
        if the_plan.serve is Side.V1:
            return await self._serve_v1(op, call, inbound, the_plan, services, scope, known)
        return await self._serve_v3(op, call, inbound, the_plan, services, scope)

    async def _known_in_v3(
        self,
        services: Services,
        scope: Scope,
        op: str,
        person_id: str | None,
        group_id: str | None,
        face_id: str | None,
    ) -> bool:
        if op in PERSON_OPS and person_id is not None:
            return await services.store.is_known_in_v3(scope.store_key, person_id)
        if op in GROUP_OPS and group_id is not None:
            return await services.store.is_known_in_v3(scope.store_key, outbox.group_key(group_id))
        if op == "getfaceinfo" and face_id is not None:
            if await services.store.get_face(scope.store_key, face_id) is not None:
                return True
            return await outbox.counterpart(services, scope.store_key, Side.V1, face_id) is not None
        return True  # no subject (getgroupids, compare): nothing to know

    async def _v1_has_person(self, settings: Settings, call: V1Call, person_id: str | None) -> bool:
        """Whether v1 already holds this person id (a getinfo signed with the tenant's key); False if v1 is down."""
        backend, key = settings.migration.legacy, outbox.legacy_key(settings, call.target.appid)
        if backend is None or key is None or person_id is None:
            return False
        probe = writes.v1_body(key, call.target, GetInfo(person_id))
        try:
            reply = await self.legacy.post(backend, "/face/getinfo", probe.body, probe.headers)
        except LegacyUnreachable:
            return False
        return reply.code == 0

    async def _fresh_side(self, services: Services, scope: Scope, person_id: str) -> Side | None:
        """The side that served this person's latest write, while that write is still owed to the other."""
        owed = [
            e
            for e in await services.store.journal_for_subject(scope.store_key, person_id)
            if e.kind == outbox.KIND and e.op != outbox.FACEMAP_OP
        ]
        return Side(owed[-1].target).other if owed else None

    def _routed(self, call: V1Call, the_plan: Plan, side: Side, reason: Reason) -> None:
        self.metrics.observe_route(call.target.appid, call.op, the_plan.route.kind, side, reason)
        structlog.contextvars.bind_contextvars(
            migration_route=str(the_plan.route), answered_by=side.value, route_reason=reason.value
        )

    async def _forward(self, call: V1Call, inbound: Inbound) -> Verbatim:
        settings, _ = self._runtime()
        backend = settings.migration.legacy
        if backend is None:
            raise unreachable_error()
        try:
            return await self.legacy.forward(backend, inbound)
        except LegacyUnreachable:
            self.metrics.legacy_unreachable.labels(op=call.op).inc()
            log.warning("migration.legacy_unreachable", op=call.op, tenant=call.target.appid)
            raise unreachable_error() from None

    async def _serve_v1(
        self,
        op: Op[Any, Any],
        call: V1Call,
        inbound: Inbound,
        the_plan: Plan,
        services: Services,
        scope: Scope,
        known: bool,
    ) -> Verbatim:
        started = time.perf_counter()
        reply = await self._forward(call, inbound)
        v1_seconds = time.perf_counter() - started
        self._routed(call, the_plan, Side.V1, the_plan.reason)
        if the_plan.shadow_read and self._gate(call.target.appid, call.op):
            self._spawn(self._shadow(op, call, inbound, reply, services, scope, known, v1_seconds))
        if call.op in WRITE_OPS and reply.code == 0:
            if the_plan.mirror_write is Side.V3:
                await self._owe(Side.V3, call, reply, services, scope, v1_seconds)
            elif the_plan.route.kind is Kind.V1:  # v3 no longer holds this person (and its groups) as v1 does
                person_id, _ = _subjects(call.request)
                if person_id is not None:
                    await services.store.forget_known_in_v3(scope.store_key, person_id)
                for group_id in getattr(call.request, "group_ids", ()):
                    await services.store.forget_known_in_v3(scope.store_key, outbox.group_key(group_id))
        return reply

    async def _serve_v3(
        self, op: Op[Any, Any], call: V1Call, inbound: Inbound, the_plan: Plan, services: Services, scope: Scope
    ) -> V1Result | Verbatim:
        write = call.op in WRITE_OPS
        request = await self._v3_face_ids(call.request, services, scope)
        started = time.perf_counter()
        try:
            result: V1Result = await run_op(op, request, services, scope)
        except V1Error as exc:
            if the_plan.fallback and exc.http_status >= 500:
                self.metrics.fallbacks.labels(tenant=call.target.appid, op=call.op).inc()
                log.warning("migration.fallback", op=call.op, tenant=call.target.appid, v1_code=exc.code)
                reply = await self._forward(call, inbound)
                self._routed(call, the_plan, Side.V1, the_plan.reason)
                return reply
            self._routed(call, the_plan, Side.V3, the_plan.reason)
            raise
        v3_seconds = time.perf_counter() - started
        self._routed(call, the_plan, Side.V3, the_plan.reason)
        result = await self._v1_face_ids(result, call.request, services, scope)
        if write:
            await outbox.after_v3_write(services, scope.store_key, call.request, now=time.time())
            if the_plan.mirror_write is Side.V1:
                await self._owe(Side.V1, call, result, services, scope, v3_seconds)
        return result

    async def _v3_face_ids(self, request: Any, services: Services, scope: Scope) -> Any:
        """delface / getfaceinfo served by v3 with face ids v1 minted: the ids v3 gave the same faces."""
        if isinstance(request, DelFace):
            ids = [await outbox.counterpart(services, scope.store_key, Side.V1, f) or f for f in request.face_ids]
            return DelFace(request.person_id, tuple(ids))
        if isinstance(request, GetFaceInfo):
            mapped = await outbox.counterpart(services, scope.store_key, Side.V1, request.face_id)
            return GetFaceInfo(mapped) if mapped is not None else request
        return request

    async def _v1_face_ids(self, result: V1Result, request: Any, services: Services, scope: Scope) -> V1Result:
        """A v3 answer shows the face ids the app knows: v1's, for faces v1 minted first (one id space)."""

        async def v1_id(face_id: str) -> str:
            return await outbox.counterpart(services, scope.store_key, Side.V3, face_id) or face_id

        async def v1_ids(face_ids: tuple[str, ...]) -> tuple[str, ...]:
            return tuple([await v1_id(f) for f in face_ids])

        if isinstance(result, GetFaceInfoResult) and isinstance(request, GetFaceInfo):
            return GetFaceInfoResult(result.session_id, FaceInfo(request.face_id, result.face_info.attributes))
        if isinstance(result, GetInfoResult):
            return dataclasses.replace(result, face_ids=await v1_ids(result.face_ids))
        if isinstance(result, GetFaceIdsResult):
            return dataclasses.replace(result, face_ids=await v1_ids(result.face_ids))
        if isinstance(result, DelFaceResult):
            return dataclasses.replace(result, face_ids=await v1_ids(result.face_ids))
        if isinstance(result, IdentifyResult):
            candidates = [dataclasses.replace(c, face_id=await v1_id(c.face_id)) for c in result.candidates]
            return dataclasses.replace(result, candidates=tuple(candidates))
        return result

    async def _owe(
        self,
        target: Side,
        call: V1Call,
        served: V1Result | Verbatim,
        services: Services,
        scope: Scope,
        served_seconds: float,
    ) -> None:
        await outbox.owe(
            services,
            self.metrics,
            target_side=target,
            namespace=scope.store_key,
            op=call.op,
            target=call.target,
            request=call.request,  # type: ignore[arg-type]  # a write op's request
            served_face_ids=served_face_ids(served, call.request),
            served_ms=served_seconds * 1000,
        )
        self.replayer.wake()

    # ---- background -------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _shadow(
        self,
        op: Op[Any, Any],
        call: V1Call,
        inbound: Inbound,
        reply: Verbatim,
        services: Services,
        scope: Scope,
        known: bool,
        v1_seconds: float,
    ) -> None:
        """The shadow path: the same request on v3, then both answers to every observer (the comparator hook).

        While a write of the person is still owed to v3, the v3 call waits for it (up to SHADOW_WAIT_S), so
        that v3 is compared on the same data; ``v3_behind`` says when it did not arrive in time."""
        person_id, _ = _subjects(call.request)
        behind = False
        if person_id is not None:
            for _ in range(round(SHADOW_WAIT_S / SHADOW_POLL_S)):
                behind = await self._fresh_side(services, scope, person_id) is Side.V1
                if not behind:
                    break
                await asyncio.sleep(SHADOW_POLL_S)
        started = time.perf_counter()
        result: V1Result | None = None
        error: V1Error | None = None
        try:
            with scoretap.capturing() as raw_scores:
                result = await run_op(op, call.request, services, scope)
            outcome = "ok"
        except V1Error as exc:
            error, outcome = exc, str(exc.code)
        except Exception:
            log.exception("migration.shadow_failed", op=call.op, tenant=call.target.appid)
            self.metrics.shadow.labels(tenant=call.target.appid, op=call.op, outcome="error").inc()
            return
        self.metrics.shadow.labels(tenant=call.target.appid, op=call.op, outcome=outcome).inc()
        pair = ShadowPair(
            tenant=call.target.appid,
            op=call.op,
            call=call,
            v1=reply,
            v3_result=result,
            v3_error=error,
            known_in_v3=known,
            v3_behind=behind,
            v3_raw_scores=tuple(raw_scores) if result is not None else (),
            v1_seconds=v1_seconds,
            v3_seconds=time.perf_counter() - started,
            inbound=inbound,
        )
        for observer in list(self._observers):
            try:
                await observer(pair)
            except Exception:
                log.exception("migration.observer_failed", op=call.op)
