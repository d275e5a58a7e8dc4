"""The 13 v1 operations of the legacy service, one handler each, and the explicit table that names them.

Each handler takes the op context (the appid's account, the service's parts, a session id) and the
body's fields, applies 002_'s rules (`models`) and returns the reply's ``data`` with the JSON
types the seeds document. Key order follows the seeds' samples.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from proxy.legacy import exceptions as errors
from proxy.legacy import images
from proxy.legacy.exceptions import V1Error
from proxy.legacy.models import Account, FaceEntry, PersonEntry
from proxy.legacy.runtime import Legacy
from proxy.legacy.scoring import MATCH_THRESHOLD, legacy_score
from proxy.legacy.wire import MAX_NAME_BYTES, MAX_TAG_BYTES, Fields, Host, ImageInput

Data = dict[str, Any]


@dataclass(frozen=True)
class OpContext:
    """What one request works with."""

    legacy: Legacy
    account: Account
    session_id: str

    async def measure(self, image: ImageInput) -> images.MeasuredImage:
        return await images.load(self.legacy.session(), self.legacy.model, image)


Handler = Callable[[OpContext, Fields], Awaitable[Data]]


@dataclass(frozen=True)
class LegacyOp:
    """One v1 operation: its handler, the hosts that serve it, whether it changes data."""

    name: str
    handler: Handler
    hosts: frozenset[Host]
    writes: bool


def _new_face(ctx: OpContext, person_id: str, image: images.MeasuredImage, tag: str | None) -> FaceEntry:
    return FaceEntry(
        face_id=ctx.legacy.state.new_face_id(),
        person_id=person_id,
        face=image.face,
        image=image.data,
        digest=image.digest,
        tag=tag,
    )


# ---- person family ----------------------------------------------------------------------------


async def newperson(ctx: OpContext, fields: Fields) -> Data:
    person_id = fields.required_id("person_id")
    group_ids = fields.id_list("group_ids")
    picture = fields.image("url", "image")
    name = fields.optional_text("person_name", MAX_NAME_BYTES)
    tag = fields.optional_text("tag", MAX_TAG_BYTES)
    ctx.account.check_new_person(person_id, group_ids)
    measured = await ctx.measure(picture)
    groups = ctx.account.check_new_person(person_id, group_ids)  # again: the image fetch awaited
    person = PersonEntry(person_id=person_id, name=name or "", tag=tag or "", group_ids=groups)
    face = _new_face(ctx, person_id, measured, tag)
    ctx.account.add_person(person, face)
    return {
        "person_id": person_id,
        "suc_group": len(groups),
        "suc_face": 1,
        "session_id": ctx.session_id,
        "face_id": face.face_id,
        "group_ids": list(groups),
    }


async def delperson(ctx: OpContext, fields: Fields) -> Data:
    person_id = fields.required_id("person_id")
    ctx.account.delete_person(person_id)
    return {"deleted": 1, "person_id": person_id, "session_id": ctx.session_id}


async def setinfo(ctx: OpContext, fields: Fields) -> Data:
    person_id = fields.required_id("person_id")
    name = fields.optional_text("person_name", MAX_NAME_BYTES)
    tag = fields.optional_text("tag", MAX_TAG_BYTES)
    person = ctx.account.person(person_id)
    if name is not None:
        person.name = name
    if tag is not None:
        person.tag = tag
    return {"person_id": person_id, "session_id": ctx.session_id}


async def getinfo(ctx: OpContext, fields: Fields) -> Data:
    person = ctx.account.person(fields.required_id("person_id"))
    return {
        "person_id": person.person_id,
        "person_name": person.name,
        "face_ids": [f.face_id for f in person.faces],
        "group_ids": list(person.group_ids),
        "tag": person.tag,
        "session_id": ctx.session_id,
    }


# ---- face family ------------------------------------------------------------------------------


async def addface(ctx: OpContext, fields: Fields) -> Data:
    person_id = fields.required_id("person_id")
    pictures = fields.images()
    tag = fields.optional_text("tag", MAX_TAG_BYTES)
    ctx.account.person(person_id)
    measured: list[images.MeasuredImage | V1Error] = []
    for picture in pictures:
        try:
            measured.append(await ctx.measure(picture))
        except V1Error as exc:
            measured.append(exc)
    person = ctx.account.person(person_id)  # again: it may have been deleted while images loaded
    face_ids: list[str] = []
    ret_codes: list[int] = []
    for item in measured:
        if isinstance(item, V1Error):
            ret_codes.append(item.code)
            continue
        code = ctx.account.admission(person, item.face, ctx.legacy.model)
        if code == 0:
            face = _new_face(ctx, person_id, item, tag)
            ctx.account.add_face(person, face)
            face_ids.append(face.face_id)
        ret_codes.append(code)
    return {"added": len(face_ids), "session_id": ctx.session_id, "face_ids": face_ids, "ret_codes": ret_codes}


async def delface(ctx: OpContext, fields: Fields) -> Data:
    person_id = fields.required_id("person_id")
    face_ids = fields.id_list("face_ids")
    ctx.account.person(person_id)
    deleted = ctx.account.delete_faces(person_id, face_ids)
    if not deleted:
        raise errors.face_not_found(face_ids[0])
    return {"deleted": len(deleted), "face_ids": deleted, "session_id": ctx.session_id}


async def getfaceids(ctx: OpContext, fields: Fields) -> Data:
    person = ctx.account.person(fields.required_id("person_id"))
    return {"face_ids": [f.face_id for f in person.faces]}


async def getfaceinfo(ctx: OpContext, fields: Fields) -> Data:
    entry = ctx.account.face(fields.required_id("face_id"))
    face = entry.face
    attrs = face.attributes
    return {
        "face_info": {
            "face_id": entry.face_id,
            "x": int(face.box.x),
            "y": int(face.box.y),
            "height": float(face.box.height),
            "width": float(face.box.width),
            "pitch": int(attrs.pitch),
            "roll": int(attrs.roll),
            "yaw": int(attrs.yaw),
            "age": int(attrs.age),
            "gender": int(attrs.gender),
            "glass": bool(attrs.glass),
            "expression": int(attrs.expression),
        }
    }


# ---- group family -----------------------------------------------------------------------------


async def getgroupids(ctx: OpContext, fields: Fields) -> Data:
    if not ctx.account.groups:
        raise errors.no_groups()
    return {"group_ids": list(ctx.account.groups)}


async def getpersonids(ctx: OpContext, fields: Fields) -> Data:
    members = ctx.account.group(fields.required_id("group_id"))
    return {"person_ids": list(members)}


# ---- recognition ------------------------------------------------------------------------------


async def verify(ctx: OpContext, fields: Fields) -> Data:
    person_id = fields.required_id("person_id")
    picture = fields.image("url", "image")
    ctx.account.person(person_id)
    measured = await ctx.measure(picture)
    person = ctx.account.person(person_id)
    best = ctx.account.best_face(measured.face, measured.digest, person, ctx.legacy.model, ctx.legacy.state.seed)
    if best is None:
        raise V1Error(-1305, f"face does not exist: person {person_id} has no face")
    return {"session_id": ctx.session_id, "confidence": best.confidence, "ismatch": best.confidence >= MATCH_THRESHOLD}


async def identify(ctx: OpContext, fields: Fields) -> Data:
    group_id = fields.required_id("group_id")
    picture = fields.image("url", "image")
    ctx.account.group(group_id)
    measured = await ctx.measure(picture)
    state = ctx.legacy.state
    ranked = ctx.account.identify(measured.face, measured.digest, group_id, ctx.legacy.model, state.seed)
    candidates = [
        {
            "person_id": c.person.person_id,
            "face_id": c.face.face_id,
            "confidence": c.confidence,
            "tag": c.face.tag if c.face.tag is not None else c.person.tag,
        }
        for c in ranked
    ]
    return {"session_id": ctx.session_id, "candidates": candidates}


async def compare(ctx: OpContext, fields: Fields) -> Data:
    picture_a = fields.image("urlA", "imageA", fail_flag=1)
    picture_b = fields.image("urlB", "imageB", fail_flag=2)
    a = await ctx.measure(picture_a)
    b = await ctx.measure(picture_b)
    v3_score = ctx.legacy.model.score(a.face, b.face)
    similarity = legacy_score(v3_score, a.digest, b.digest, ctx.legacy.state.seed)
    return {"similarity": similarity, "session_id": ctx.session_id}


_SERVICE = frozenset({Host.SERVICE})
_BOTH = frozenset({Host.SERVICE, Host.RECOGNITION})


def _op(name: str, handler: Handler, *, writes: bool = False, hosts: frozenset[Host] = _SERVICE) -> LegacyOp:
    return LegacyOp(name=name, handler=handler, hosts=hosts, writes=writes)


OPS: Mapping[str, LegacyOp] = MappingProxyType(
    {
        op.name: op
        for op in (
            _op("newperson", newperson, writes=True),
            _op("delperson", delperson, writes=True),
            _op("addface", addface, writes=True),
            _op("delface", delface, writes=True),
            _op("setinfo", setinfo, writes=True),
            _op("getinfo", getinfo),
            _op("getgroupids", getgroupids),
            _op("getpersonids", getpersonids),
            _op("getfaceids", getfaceids),
            _op("getfaceinfo", getfaceinfo),
            _op("verify", verify),
            _op("identify", identify),
            _op("compare", compare, hosts=_BOTH),
        )
    }
)
