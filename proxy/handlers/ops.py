"""The one op table: a typed record per v1 op (parse, handle), and the entry point that runs one op.

Entry point (used by the v1 route, and by in-process callers such as the backfill tool and the
staged-migration router)::

    await run_op(op, request, services, scope) -> Res     # raises V1Error, never V3Error

- ``op``: a record of this module (``NEWPERSON``, ``ADDFACE``, ...; by name: ``OPS["addface"]``);
  ``Op[Req, Res]`` ties the request type its parser makes to the result its handler returns.
- ``request``: the op's typed request (``proxy.domain.requests``), built directly or parsed from a
  v1 body with ``op.parse(form)`` (``V1Form``, proxy.v1.form); ``run_form`` does both.
- ``services``: the runtime's Services: ``app[RUNTIME].current.services`` in a running app (read it
  per call: a reload swaps it), or for a tool ``proxy.app.build_runtime(proxy.config.compile_settings(
  settings), session=..., store=..., metrics=..., limits=...).services``; ``scope``: ``services.scope(Target(appid,
  bucket))``, the tenant's v3 id namespace and store key under the configured tenant policy.
- Returns the op's typed result (``proxy.domain.results``); a refusal or a v3 failure is raised as
  ``V1Error`` (v3 codes translated through the configured error map).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from proxy.domain.requests import (
    AddFace,
    Compare,
    DelFace,
    DelPerson,
    GetFaceIds,
    GetFaceInfo,
    GetGroupIds,
    GetInfo,
    GetPersonIds,
    Identify,
    NewPerson,
    SetInfo,
    V1Request,
    Verify,
)
from proxy.domain.results import (
    AddFaceResult,
    CompareResult,
    DelFaceResult,
    DelPersonResult,
    GetFaceIdsResult,
    GetFaceInfoResult,
    GetGroupIdsResult,
    GetInfoResult,
    GetPersonIdsResult,
    IdentifyResult,
    NewPersonResult,
    SetInfoResult,
    V1Result,
    VerifyResult,
)
from proxy.handlers import faces, groups, person, recognition
from proxy.handlers.boundary import to_v1_error
from proxy.handlers.context import Services
from proxy.translate.scope import Scope
from proxy.v1 import requests as parse
from proxy.v1.form import V1Form
from proxy.v3.errors import V3Error

Req = TypeVar("Req", bound=V1Request)
Res = TypeVar("Res", bound=V1Result)


@dataclass(frozen=True, slots=True)
class Op(Generic[Req, Res]):
    """One v1 op: its name, the parser of its body and the handler that answers it (mypy checks they agree)."""

    name: str
    parse: Callable[[V1Form], Req]
    handle: Callable[[Req, Services, Scope], Awaitable[Res]]


NEWPERSON: Op[NewPerson, NewPersonResult] = Op("newperson", parse.parse_newperson, person.newperson)
DELPERSON: Op[DelPerson, DelPersonResult] = Op("delperson", parse.parse_delperson, person.delperson)
ADDFACE: Op[AddFace, AddFaceResult] = Op("addface", parse.parse_addface, faces.addface)
DELFACE: Op[DelFace, DelFaceResult] = Op("delface", parse.parse_delface, faces.delface)
SETINFO: Op[SetInfo, SetInfoResult] = Op("setinfo", parse.parse_setinfo, person.setinfo)
GETINFO: Op[GetInfo, GetInfoResult] = Op("getinfo", parse.parse_getinfo, person.getinfo)
GETGROUPIDS: Op[GetGroupIds, GetGroupIdsResult] = Op("getgroupids", parse.parse_getgroupids, groups.getgroupids)
GETPERSONIDS: Op[GetPersonIds, GetPersonIdsResult] = Op("getpersonids", parse.parse_getpersonids, groups.getpersonids)
GETFACEIDS: Op[GetFaceIds, GetFaceIdsResult] = Op("getfaceids", parse.parse_getfaceids, person.getfaceids)
GETFACEINFO: Op[GetFaceInfo, GetFaceInfoResult] = Op("getfaceinfo", parse.parse_getfaceinfo, faces.getfaceinfo)
VERIFY: Op[Verify, VerifyResult] = Op("verify", parse.parse_verify, recognition.verify)
IDENTIFY: Op[Identify, IdentifyResult] = Op("identify", parse.parse_identify, recognition.identify)
COMPARE: Op[Compare, CompareResult] = Op("compare", parse.parse_compare, recognition.compare)

OPS: Mapping[str, Op[Any, Any]] = MappingProxyType(
    {
        op.name: op
        for op in (
            NEWPERSON,
            DELPERSON,
            ADDFACE,
            DELFACE,
            SETINFO,
            GETINFO,
            GETGROUPIDS,
            GETPERSONIDS,
            GETFACEIDS,
            GETFACEINFO,
            VERIFY,
            IDENTIFY,
            COMPARE,
        )
    }
)
"""Every v1 op by its name in ``POST /face/<op>``."""


async def run_op(op: Op[Req, Res], request: Req, services: Services, scope: Scope) -> Res:
    """Run one v1 op for one tenant: its typed result, or V1Error (v3 errors mapped through services.errors)."""
    try:
        return await op.handle(request, services, scope)
    except V3Error as exc:
        raise to_v1_error(exc, services.errors) from None


async def run_form(op: Op[Req, Res], form: V1Form, services: Services, scope: Scope) -> Res:
    """`run_op` on a v1 body: parsed first (V1Error 21, -1300, -1301, -1313 when it does not parse)."""
    return await run_op(op, op.parse(form), services, scope)
