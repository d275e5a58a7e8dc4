"""v1 group family: getgroupids, getpersonids; and groups created on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from proxy.domain.requests import GetGroupIds, GetPersonIds
from proxy.domain.results import GetGroupIdsResult, GetPersonIdsResult
from proxy.handlers.context import Services
from proxy.handlers.paging import all_pages
from proxy.translate import groups as t
from proxy.translate import v3api
from proxy.translate.scope import Scope
from proxy.v3.errors import V3Error


async def ensure_groups(services: Services, v3_group_ids: Sequence[str]) -> None:
    """Create the groups (concurrently); one that exists already is fine."""

    async def create(group_id: str) -> None:
        try:
            await services.v3.call(v3api.CREATE_GROUP, t.create_group_params(group_id))
        except V3Error as exc:
            if exc.code not in v3api.GROUP_ALREADY_THERE:
                raise

    await asyncio.gather(*(create(g) for g in v3_group_ids))


async def getgroupids(req: GetGroupIds, services: Services, scope: Scope) -> GetGroupIdsResult:
    groups = await all_pages(services.v3, t.group_list())
    return t.getgroupids_from_v3(groups.request_id, groups.items, scope)


async def getpersonids(req: GetPersonIds, services: Services, scope: Scope) -> GetPersonIdsResult:
    persons = await all_pages(services.v3, t.person_list(scope.v3_id(req.group_id)))
    return t.getpersonids_from_v3(persons.request_id, persons.items, scope)
