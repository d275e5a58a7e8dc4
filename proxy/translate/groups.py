"""v1 group family <-> v3: getgroupids (GetGroupList), getpersonids (GetPersonList), groups made on demand."""

from __future__ import annotations

from proxy.domain.results import GetGroupIdsResult, GetPersonIdsResult
from proxy.translate import v3api
from proxy.translate.names import v3_group_name
from proxy.translate.paging import Listing, Page
from proxy.translate.scope import Scope
from proxy.translate.v3api import Params, Reply

LIST_PAGE = 1000  # GetGroupList / GetPersonList Limit maximum
PERSON_GROUP_PAGE = 100  # GetPersonGroupInfo's Limit maximum


def create_group_params(v3_group_id: str) -> Params:
    return {"GroupId": v3_group_id, "GroupName": v3_group_name(v3_group_id)}


def _group_page(reply: Reply) -> Page[str]:
    infos = reply.data.get("GroupInfos") or []
    return Page(tuple(str(info["GroupId"]) for info in infos), int(reply.data.get("GroupNum") or 0))


def group_list() -> Listing[str]:
    """Every group of the v3 account (all tenants' on a shared account)."""
    return Listing(
        v3api.GET_GROUP_LIST, lambda offset, limit: {"Offset": offset, "Limit": limit}, _group_page, LIST_PAGE
    )


def _person_page(reply: Reply) -> Page[str]:
    infos = reply.data.get("PersonInfos") or []
    return Page(tuple(str(info["PersonId"]) for info in infos), int(reply.data.get("PersonNum") or 0))


def person_list(v3_group_id: str) -> Listing[str]:
    """The persons of one v3 group."""
    return Listing(
        v3api.GET_PERSON_LIST,
        lambda offset, limit: {"GroupId": v3_group_id, "Offset": offset, "Limit": limit},
        _person_page,
        LIST_PAGE,
    )


def _person_group_page(reply: Reply) -> Page[str]:
    infos = reply.data.get("PersonGroupInfos") or []
    return Page(tuple(str(info["GroupId"]) for info in infos), int(reply.data.get("GroupNum") or 0))


def person_groups(v3_person_id: str) -> Listing[str]:
    """The v3 groups one person is in."""
    return Listing(
        v3api.GET_PERSON_GROUP_INFO,
        lambda offset, limit: {"PersonId": v3_person_id, "Offset": offset, "Limit": limit},
        _person_group_page,
        PERSON_GROUP_PAGE,
    )


def getgroupids_from_v3(session_id: str, v3_group_ids: tuple[str, ...], scope: Scope) -> GetGroupIdsResult:
    # a shared v3 account holds other tenants' groups too: keep only this tenant's
    return GetGroupIdsResult(session_id=session_id, group_ids=scope.v1_ids(v3_group_ids))


def getpersonids_from_v3(session_id: str, v3_person_ids: tuple[str, ...], scope: Scope) -> GetPersonIdsResult:
    return GetPersonIdsResult(session_id=session_id, person_ids=scope.v1_ids(v3_person_ids))
