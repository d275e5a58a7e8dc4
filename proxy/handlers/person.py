"""v1 person family: newperson, delperson, setinfo, getinfo, getfaceids."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence

from proxy.domain.faces import NO_ATTRIBUTES, FaceAttributes
from proxy.domain.requests import DelPerson, GetFaceIds, GetInfo, NewPerson, SetInfo
from proxy.domain.results import DelPersonResult, GetFaceIdsResult, GetInfoResult, NewPersonResult, SetInfoResult
from proxy.handlers.context import Services
from proxy.handlers.faces import capture_attributes, face_records
from proxy.handlers.groups import ensure_groups
from proxy.handlers.journal import journaled
from proxy.handlers.paging import all_pages
from proxy.handlers.reconcile import PERSON_MISSING, settle_due
from proxy.store.base import PersonRecord
from proxy.translate import person as t
from proxy.translate import v3api
from proxy.translate.faces import AddedFace
from proxy.translate.fields import face_ids
from proxy.translate.groups import person_groups
from proxy.translate.scope import Scope
from proxy.translate.v3api import Params
from proxy.v3.client import V3Reply
from proxy.v3.errors import V3Error


async def newperson(req: NewPerson, services: Services, scope: Scope) -> NewPersonResult:
    plan = t.newperson_to_v3(req, scope)
    fingerprint = _fingerprint(req)
    async with services.locks.hold(scope.writer_key(plan.person)):
        replayed = await _answer_of_an_earlier_attempt(req, services, scope, plan, fingerprint)
        if replayed is not None:
            return replayed
        await settle_due(services, scope.store_key, req.person_id)
        intent = {
            "name": req.person_name,
            "tag": req.tag,
            "v3_name": plan.create["PersonName"],
            "fingerprint": fingerprint,
        }
        async with journaled(
            services.store, services.journal, scope, "newperson", req.person_id, plan.person, intent
        ) as write:
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
                    added = [AddedFace(face_id, attrs)]
                    await services.store.put_faces(face_records(scope, req.person_id, req.tag, added))
                await services.store.mark_known_in_v3(scope.store_key, req.person_id, "proxy", now=time.time())
                write.applied()
            finally:
                if attributes is not None and not attributes.done():
                    attributes.cancel()
            joined = [plan.groups[0]]
            if len(plan.groups) > 1:
                joined += await _copy_to_groups(services, plan.person, plan.groups[1:])
    return t.newperson_from_v3(req, scope, session_id=reply.request_id, joined=joined, face_id=face_id)


def _fingerprint(req: NewPerson) -> str:
    """What makes a retry "the same request": ids, groups, name, tag and the image's url or size."""
    image = req.image.url if req.image.url is not None else len(req.image.data or b"")
    text = json.dumps([req.person_id, list(req.group_ids), req.person_name, req.tag, image], ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


async def _answer_of_an_earlier_attempt(
    req: NewPerson, services: Services, scope: Scope, plan: t.NewPersonPlan, fingerprint: str
) -> NewPersonResult | None:
    """The app retries a newperson whose answer it never got (timeout, dropped): when v3 applied that
    attempt, answer success as v1 would have, not -1302. None: no such attempt (or v3 did not apply it)."""
    entries = await services.store.journal_for_subject(scope.store_key, req.person_id, open_only=False, kind="write")
    if not entries:
        return None
    last = entries[-1]  # only the person's latest write can be the attempt being retried
    if last.op != "newperson" or last.payload.get("fingerprint") != fingerprint or last.payload.get("answered"):
        return None
    if last.is_open:
        await settle_due(services, scope.store_key, req.person_id, force=True)
        settled = await services.store.journal_get(last.entry_id)
        if settled is None:
            return None
        last = settled
    if last.state != "applied":
        return None
    base, groups = await asyncio.gather(
        services.v3.call(v3api.GET_PERSON_BASE_INFO, t.person_params(plan.person)),
        all_pages(services.v3, person_groups(plan.person)),
    )
    await services.store.journal_complete(
        last.entry_id, "applied", now=time.time(), payload={**last.payload, "answered": True}
    )
    faces = face_ids(base)
    joined = [g for g in plan.groups if g in set(groups.items)]
    return t.newperson_from_v3(req, scope, session_id=base.request_id, joined=joined, face_id=faces[0] if faces else "")


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
        await settle_due(services, scope.store_key, req.person_id)
        async with journaled(services.store, services.journal, scope, "delperson", req.person_id, person, {}) as write:
            try:
                reply = await services.v3.call(v3api.DELETE_PERSON, t.person_params(person))
            except V3Error as exc:
                if exc.code in PERSON_MISSING:  # v3 has no such person: nothing of it stays in the proxy
                    await _forget_person(services, scope, req.person_id)
                    write.applied()
                raise  # any other failure: v3 still holds the person, so the proxy keeps its data
            await _forget_person(services, scope, req.person_id)
            write.applied()
    return DelPersonResult(session_id=reply.request_id, person_id=req.person_id, deleted=1)


async def _forget_person(services: Services, scope: Scope, person_id: str) -> None:
    await services.store.delete_person(scope.store_key, person_id)
    await services.store.forget_known_in_v3(scope.store_key, person_id)


async def setinfo(req: SetInfo, services: Services, scope: Scope) -> SetInfoResult:
    person = scope.v3_id(req.person_id)
    if req.person_name is None:  # only a tag: it lives in the store, but the person must exist
        reply = await services.v3.call(v3api.GET_PERSON_BASE_INFO, t.person_params(person))
        await services.store.update_person(scope.store_key, req.person_id, tag=req.tag)
        return t.setinfo_from_v3(reply, req)
    params = t.modify_name_params(req, person)
    intent = {"name": req.person_name, "tag": req.tag, "v3_name": params["PersonName"]}
    async with services.locks.hold(scope.writer_key(person)):
        await settle_due(services, scope.store_key, req.person_id)
        async with journaled(
            services.store, services.journal, scope, "setinfo", req.person_id, person, intent
        ) as write:
            reply = await services.v3.call(v3api.MODIFY_PERSON_BASE_INFO, params)
            await services.store.update_person(scope.store_key, req.person_id, name=req.person_name, tag=req.tag)
            write.applied()
    return t.setinfo_from_v3(reply, req)


async def getinfo(req: GetInfo, services: Services, scope: Scope) -> GetInfoResult:
    person = scope.v3_id(req.person_id)
    if await services.store.journal_for_subject(scope.store_key, req.person_id, kind="write"):  # a write left unsettled
        async with services.locks.hold(scope.writer_key(person)):
            await settle_due(services, scope.store_key, req.person_id)
    base, groups, record = await asyncio.gather(
        services.v3.call(v3api.GET_PERSON_BASE_INFO, t.person_params(person)),
        all_pages(services.v3, person_groups(person)),
        services.store.get_person(scope.store_key, req.person_id),
    )
    return t.getinfo_from_v3(base, req.person_id, groups.items, record, scope)


async def getfaceids(req: GetFaceIds, services: Services, scope: Scope) -> GetFaceIdsResult:
    reply = await services.v3.call(v3api.GET_PERSON_BASE_INFO, t.person_params(scope.v3_id(req.person_id)))
    return t.getfaceids_from_v3(reply)
