"""v1 person family: newperson, delperson, setinfo, getinfo, getfaceids."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from proxy.domain.faces import NO_ATTRIBUTES, FaceAttributes
from proxy.domain.requests import DelPerson, GetFaceIds, GetInfo, NewPerson, SetInfo
from proxy.domain.results import DelPersonResult, GetFaceIdsResult, GetInfoResult, NewPersonResult, SetInfoResult
from proxy.handlers.context import Services
from proxy.handlers.faces import capture_attributes, face_records
from proxy.handlers.groups import ensure_groups
from proxy.handlers.paging import all_pages
from proxy.store.base import PersonRecord
from proxy.translate import person as t
from proxy.translate import v3api
from proxy.translate.faces import AddedFace
from proxy.translate.groups import person_groups
from proxy.translate.scope import Scope
from proxy.translate.v3api import Params
from proxy.v3.client import V3Reply
from proxy.v3.errors import V3Error


async def newperson(req: NewPerson, services: Services, scope: Scope) -> NewPersonResult:
    plan = t.newperson_to_v3(req, scope)
    async with services.locks.hold(scope.writer_key(plan.person)):
        attributes: asyncio.Future[FaceAttributes] | None = (
            asyncio.ensure_future(capture_attributes(services, req.image))
            if plan.has_image and services.capture_face_attributes
            else None
        )
        try:
            reply = await _create_person(services, plan.create)
            # the person's name and tag live in the store: v3 cannot hold every v1 name, nor a tag
            await services.store.put_person(PersonRecord(scope.store_key, req.person_id, req.person_name, req.tag))
            face_id = t.created_face_id(reply)
            if face_id:  # without attribute capture the face is still the proxy's: getfaceinfo answers zeros
                attrs = await attributes if attributes is not None else NO_ATTRIBUTES
                await services.store.put_faces(face_records(scope, req.person_id, req.tag, [AddedFace(face_id, attrs)]))
        finally:
            if attributes is not None and not attributes.done():
                attributes.cancel()
        joined = [plan.groups[0]]
        if len(plan.groups) > 1:
            joined += await _copy_to_groups(services, plan.person, plan.groups[1:])
    return t.newperson_from_v3(req, scope, session_id=reply.request_id, joined=joined, face_id=face_id)


async def _create_person(services: Services, params: Params) -> V3Reply:
    """CreatePerson, creating its group on demand (v1 did; v3 does not)."""
    try:
        return await services.v3.call(v3api.CREATE_PERSON, params)
    except V3Error as exc:
        if exc.code not in v3api.GROUP_MISSING:
            raise
    await ensure_groups(services, [str(params["GroupId"])])
    return await services.v3.call(v3api.CREATE_PERSON, params)


async def _copy_to_groups(services: Services, person: str, groups: Sequence[str]) -> tuple[str, ...]:
    """CopyPerson into the remaining groups, creating the missing ones; returns where it landed."""
    params = t.copy_person_params(person, groups)
    try:
        reply = await services.v3.call(v3api.COPY_PERSON, params)
    except V3Error as exc:
        if exc.code not in v3api.GROUP_MISSING:
            raise
        await ensure_groups(services, groups)
        reply = await services.v3.call(v3api.COPY_PERSON, params)
    return t.copied_to(reply)


async def delperson(req: DelPerson, services: Services, scope: Scope) -> DelPersonResult:
    person = scope.v3_id(req.person_id)
    async with services.locks.hold(scope.writer_key(person)):
        try:
            reply = await services.v3.call(v3api.DELETE_PERSON, t.person_params(person))
        finally:
            # whatever v3 said, nothing of the person stays behind in the proxy
            await services.store.delete_person(scope.store_key, req.person_id)
    return DelPersonResult(session_id=reply.request_id, person_id=req.person_id, deleted=1)


async def setinfo(req: SetInfo, services: Services, scope: Scope) -> SetInfoResult:
    person = scope.v3_id(req.person_id)
    if req.person_name is not None:
        reply = await services.v3.call(v3api.MODIFY_PERSON_BASE_INFO, t.modify_name_params(req, person))
    else:  # only a tag: it lives in the store, but the person must exist
        reply = await services.v3.call(v3api.GET_PERSON_BASE_INFO, t.person_params(person))
    await services.store.update_person(scope.store_key, req.person_id, name=req.person_name, tag=req.tag)
    return t.setinfo_from_v3(reply, req)


async def getinfo(req: GetInfo, services: Services, scope: Scope) -> GetInfoResult:
    person = scope.v3_id(req.person_id)
    base, groups, record = await asyncio.gather(
        services.v3.call(v3api.GET_PERSON_BASE_INFO, t.person_params(person)),
        all_pages(services.v3, person_groups(person)),
        services.store.get_person(scope.store_key, req.person_id),
    )
    return t.getinfo_from_v3(base, req.person_id, groups.items, record, scope)


async def getfaceids(req: GetFaceIds, services: Services, scope: Scope) -> GetFaceIdsResult:
    reply = await services.v3.call(v3api.GET_PERSON_BASE_INFO, t.person_params(scope.v3_id(req.person_id)))
    return t.getfaceids_from_v3(reply)
