"""v1 person family: newperson, delperson, setinfo, getinfo, getfaceids."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from proxy.handlers.context import Scope, Services
from proxy.handlers.faces import NO_ATTRIBUTES, capture_attributes, face_record
from proxy.handlers.groups import ensure_groups
from proxy.store.base import PersonRecord
from proxy.translate.fields import image_params
from proxy.translate.names import v3_person_name
from proxy.v1.errors import V1Error
from proxy.v1.requests import DelPerson, GetFaceIds, GetInfo, NewPerson, SetInfo, V1Call
from proxy.v1.results import (
    DelPersonResult,
    GetFaceIdsResult,
    GetInfoResult,
    NewPersonResult,
    SetInfoResult,
)
from proxy.v3.client import V3Reply
from proxy.v3.errors import V3Error

GROUP_MISSING = frozenset({"InvalidParameterValue.GroupIdNotExist", "InvalidParameterValue.GroupIdNotExists"})
PERSON_GROUP_PAGE = 100  # GetPersonGroupInfo's Limit maximum


async def newperson(call: V1Call, services: Services) -> NewPersonResult:
    req = call.request
    assert isinstance(req, NewPerson)
    scope = Scope.of(call.target, services)
    person = scope.v3_id(req.person_id)
    groups = [scope.v3_id(g) for g in dict.fromkeys(req.group_ids)]
    if not groups:
        raise V1Error(-1307, "group_ids is empty")
    params: dict[str, Any] = {
        "GroupId": groups[0],
        "PersonId": person,
        "PersonName": v3_person_name(req.person_name, req.person_id),
    }
    has_image = bool(req.image.url or req.image.data)
    if has_image:
        params.update(image_params(req.image.url, req.image.data))
        params["UniquePersonControl"] = 0

    async with services.locks.hold(scope.writer_key(person)):
        attributes = (
            asyncio.ensure_future(capture_attributes(services, req.image))
            if has_image and services.capture_face_attributes
            else None
        )
        try:
            reply = await _create_person(services, params)
            # the person's name and tag live in the store: v3 cannot hold every v1 name, nor a tag
            await services.store.put_person(PersonRecord(scope.store_key, req.person_id, req.person_name, req.tag))
            face_id = str(reply.data.get("FaceId") or "")
            if face_id:  # without attribute capture the face is still the proxy's: getfaceinfo answers zeros
                attrs = await attributes if attributes is not None else NO_ATTRIBUTES
                await services.store.put_faces([face_record(scope, face_id, req.person_id, req.tag, attrs)])
        finally:
            if attributes is not None and not attributes.done():
                attributes.cancel()
        joined = [groups[0]]
        if len(groups) > 1:
            joined += await _copy_to_groups(services, person, groups[1:])
    return NewPersonResult(
        session_id=reply.request_id,
        suc_group=len(joined),
        suc_face=1 if face_id else 0,
        person_id=req.person_id,
        face_id=face_id,
        group_ids=tuple(g for g in (scope.v1_id(v) for v in joined) if g is not None),
    )


async def _create_person(services: Services, params: Mapping[str, Any]) -> V3Reply:
    """CreatePerson, creating its group on demand (v1 did; v3 does not)."""
    try:
        return await services.v3.call("CreatePerson", params)
    except V3Error as exc:
        if exc.code not in GROUP_MISSING:
            raise
    await ensure_groups(services, [str(params["GroupId"])])
    return await services.v3.call("CreatePerson", params)


async def _copy_to_groups(services: Services, person: str, groups: Sequence[str]) -> list[str]:
    """CopyPerson into the remaining groups, creating the missing ones; returns where it landed."""
    params = {"PersonId": person, "GroupIds": list(groups)}
    try:
        reply = await services.v3.call("CopyPerson", params)
    except V3Error as exc:
        if exc.code not in GROUP_MISSING:
            raise
        await ensure_groups(services, groups)
        reply = await services.v3.call("CopyPerson", params)
    return [str(g) for g in reply.data.get("SucGroupIds") or []]


async def delperson(call: V1Call, services: Services) -> DelPersonResult:
    req = call.request
    assert isinstance(req, DelPerson)
    scope = Scope.of(call.target, services)
    person = scope.v3_id(req.person_id)
    async with services.locks.hold(scope.writer_key(person)):
        try:
            reply = await services.v3.call("DeletePerson", {"PersonId": person})
        finally:
            # whatever v3 said, nothing of the person stays behind in the proxy
            await services.store.delete_person(scope.store_key, req.person_id)
    return DelPersonResult(session_id=reply.request_id, person_id=req.person_id, deleted=1)


async def setinfo(call: V1Call, services: Services) -> SetInfoResult:
    req = call.request
    assert isinstance(req, SetInfo)
    scope = Scope.of(call.target, services)
    person = scope.v3_id(req.person_id)
    if req.person_name is not None:
        reply = await services.v3.call(
            "ModifyPersonBaseInfo",
            {"PersonId": person, "PersonName": v3_person_name(req.person_name, req.person_id)},
        )
    else:  # only a tag: it lives in the store, but the person must exist
        reply = await services.v3.call("GetPersonBaseInfo", {"PersonId": person})
    await services.store.update_person(scope.store_key, req.person_id, name=req.person_name, tag=req.tag)
    return SetInfoResult(session_id=reply.request_id, person_id=req.person_id)


async def getinfo(call: V1Call, services: Services) -> GetInfoResult:
    req = call.request
    assert isinstance(req, GetInfo)
    scope = Scope.of(call.target, services)
    person = scope.v3_id(req.person_id)
    base, group_ids, record = await asyncio.gather(
        services.v3.call("GetPersonBaseInfo", {"PersonId": person}),
        _person_groups(services, person),
        services.store.get_person(scope.store_key, req.person_id),
    )
    name = record.name if record and record.name is not None else str(base.data.get("PersonName") or "")
    return GetInfoResult(
        session_id=base.request_id,
        person_id=req.person_id,
        person_name=name,
        face_ids=tuple(str(f) for f in base.data.get("FaceIds") or ()),
        group_ids=tuple(g for g in (scope.v1_id(v) for v in group_ids) if g is not None),
        tag=(record.tag if record else None) or "",
    )


async def _person_groups(services: Services, person: str) -> list[str]:
    groups: list[str] = []
    offset = 0
    while True:
        reply = await services.v3.call(
            "GetPersonGroupInfo", {"PersonId": person, "Offset": offset, "Limit": PERSON_GROUP_PAGE}
        )
        page = reply.data.get("PersonGroupInfos") or []
        groups += [str(info["GroupId"]) for info in page]
        total = int(reply.data.get("GroupNum") or 0)
        offset += len(page)
        if not page or offset >= total:
            return groups


async def getfaceids(call: V1Call, services: Services) -> GetFaceIdsResult:
    req = call.request
    assert isinstance(req, GetFaceIds)
    scope = Scope.of(call.target, services)
    reply = await services.v3.call("GetPersonBaseInfo", {"PersonId": scope.v3_id(req.person_id)})
    return GetFaceIdsResult(
        session_id=reply.request_id, face_ids=tuple(str(f) for f in reply.data.get("FaceIds") or ())
    )
