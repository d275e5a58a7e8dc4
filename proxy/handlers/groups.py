"""v1 group family: getgroupids, getpersonids; and groups created on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from proxy.handlers.context import Scope, Services
from proxy.translate.names import v3_group_name
from proxy.v1.requests import GetGroupIds, GetPersonIds, V1Call
from proxy.v1.results import GetGroupIdsResult, GetPersonIdsResult
from proxy.v3.errors import V3Error

# Another request (or proxy instance) created it first: the group exists, which is all we want.
ALREADY_THERE = frozenset({"InvalidParameterValue.GroupIdAlreadyExist", "InvalidParameterValue.GroupNameAlreadyExist"})
LIST_PAGE = 1000  # GetGroupList / GetPersonList Limit maximum


async def ensure_groups(services: Services, v3_group_ids: Sequence[str]) -> None:
    async def create(group_id: str) -> None:
        try:
            await services.v3.call("CreateGroup", {"GroupId": group_id, "GroupName": v3_group_name(group_id)})
        except V3Error as exc:
            if exc.code not in ALREADY_THERE:
                raise

    await asyncio.gather(*(create(g) for g in v3_group_ids))


async def getgroupids(call: V1Call, services: Services) -> GetGroupIdsResult:
    assert isinstance(call.request, GetGroupIds)
    scope = Scope.of(call.target, services)
    group_ids: list[str] = []
    offset, session_id = 0, ""
    while True:
        reply = await services.v3.call("GetGroupList", {"Offset": offset, "Limit": LIST_PAGE})
        session_id = session_id or reply.request_id
        page = reply.data.get("GroupInfos") or []
        # a shared v3 account holds other tenants' groups too: keep only this tenant's
        group_ids += [g for g in (scope.v1_id(str(info["GroupId"])) for info in page) if g is not None]
        offset += len(page)
        if len(page) < LIST_PAGE or offset >= int(reply.data.get("GroupNum") or 0):
            break
    return GetGroupIdsResult(session_id=session_id, group_ids=tuple(group_ids))


async def getpersonids(call: V1Call, services: Services) -> GetPersonIdsResult:
    req = call.request
    assert isinstance(req, GetPersonIds)
    scope = Scope.of(call.target, services)
    group = scope.v3_id(req.group_id)
    person_ids: list[str] = []
    offset, session_id = 0, ""
    while True:
        reply = await services.v3.call("GetPersonList", {"GroupId": group, "Offset": offset, "Limit": LIST_PAGE})
        session_id = session_id or reply.request_id
        page = reply.data.get("PersonInfos") or []
        person_ids += [p for p in (scope.v1_id(str(info["PersonId"])) for info in page) if p is not None]
        offset += len(page)
        if len(page) < LIST_PAGE or offset >= int(reply.data.get("PersonNum") or 0):
            break
    return GetPersonIdsResult(session_id=session_id, person_ids=tuple(person_ids))
