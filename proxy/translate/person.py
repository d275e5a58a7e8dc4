"""v1 person family <-> v3: newperson, delperson, setinfo, getinfo, getfaceids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from proxy.domain.requests import NewPerson, SetInfo
from proxy.domain.results import GetFaceIdsResult, GetInfoResult, NewPersonResult, SetInfoResult
from proxy.translate.fields import face_ids, image_params
from proxy.translate.names import v3_person_name
from proxy.translate.scope import Scope
from proxy.translate.v3api import Params, Reply


@dataclass(frozen=True, slots=True)
class NewPersonPlan:
    """What newperson asks of v3: CreatePerson in the first group, then CopyPerson into the others."""

    person: str  # the v3 person id
    groups: tuple[str, ...]  # v3 group ids, distinct, in the app's order; never empty (the parser sees to it)
    create: Params  # CreatePerson's parameters
    has_image: bool


def newperson_to_v3(req: NewPerson, scope: Scope) -> NewPersonPlan:
    person = scope.v3_id(req.person_id)
    groups = tuple(scope.v3_id(g) for g in dict.fromkeys(req.group_ids))
    # v3 needs a valid PersonName; the exact v1 name (or none) is kept in the store
    create: Params = {
        "GroupId": groups[0],
        "PersonId": person,
        "PersonName": v3_person_name(req.person_name, req.person_id),
    }
    has_image = bool(req.image.url or req.image.data)
    if has_image:
        create.update(image_params(req.image))
        create["UniquePersonControl"] = 0
    return NewPersonPlan(person=person, groups=groups, create=create, has_image=has_image)


def created_face_id(reply: Reply) -> str:
    """CreatePerson's FaceId ("" when no face was added)."""
    return str(reply.data.get("FaceId") or "")


def copy_person_params(person: str, groups: Sequence[str]) -> Params:
    return {"PersonId": person, "GroupIds": list(groups)}


def copied_to(reply: Reply) -> tuple[str, ...]:
    """The v3 groups CopyPerson put the person in."""
    return tuple(str(g) for g in reply.data.get("SucGroupIds") or [])


def newperson_from_v3(
    req: NewPerson, scope: Scope, *, session_id: str, joined: Sequence[str], face_id: str
) -> NewPersonResult:
    """`joined`: the v3 groups the person is in; `face_id`: the face CreatePerson added, or ""."""
    return NewPersonResult(
        session_id=session_id,
        suc_group=len(joined),
        suc_face=1 if face_id else 0,
        person_id=req.person_id,
        face_id=face_id,
        group_ids=scope.v1_ids(tuple(joined)),
    )


def person_params(person: str) -> Params:
    """Parameters naming one person: DeletePerson, GetPersonBaseInfo."""
    return {"PersonId": person}


def modify_name_params(req: SetInfo, person: str) -> Params:
    """ModifyPersonBaseInfo for a new v1 name (a valid v3 stand-in when v3 cannot hold it)."""
    return {"PersonId": person, "PersonName": v3_person_name(req.person_name, req.person_id)}


def setinfo_from_v3(reply: Reply, req: SetInfo) -> SetInfoResult:
    return SetInfoResult(session_id=reply.request_id, person_id=req.person_id)


def v1_name(v3_name: str, v1_person_id: str) -> str:
    """The name to answer when the proxy's store has no record of the person: v3's, unless it is the
    stand-in the proxy itself would have sent for a person created without a name (then "")."""
    return "" if v3_name == v3_person_name(None, v1_person_id) else v3_name


class StoredPerson(Protocol):
    """What the proxy's store keeps of a person (proxy.store.base.PersonRecord is one); name None: none given."""

    @property
    def name(self) -> str | None: ...

    @property
    def tag(self) -> str | None: ...


def getinfo_from_v3(
    base: Reply, v1_person_id: str, v3_groups: tuple[str, ...], stored: StoredPerson | None, scope: Scope
) -> GetInfoResult:
    """`base`: GetPersonBaseInfo; `v3_groups`: the person's groups; `stored`: the store's record.

    Name and tag come from the store, as the app sent them; a v3 stand-in name never reaches the app.
    """
    v3_name = str(base.data.get("PersonName") or "")
    name = (stored.name or "") if stored is not None else v1_name(v3_name, v1_person_id)
    return GetInfoResult(
        session_id=base.request_id,
        person_id=v1_person_id,
        person_name=name,
        face_ids=face_ids(base),
        group_ids=scope.v1_ids(v3_groups),
        tag=(stored.tag if stored else None) or "",
    )


def getfaceids_from_v3(reply: Reply) -> GetFaceIdsResult:
    return GetFaceIdsResult(session_id=reply.request_id, face_ids=face_ids(reply))
