"""The v3 vocabulary the proxy speaks: action names, the error codes it reacts to, the reply it reads.

Handlers name v3 things only through this module; everything else about v3's fields lives in the
per-family translate modules (person, faces, groups, recognition).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

Params = dict[str, Any]
"""The parameters of one v3 action, as the v3 client sends them (binary images stay bytes/views)."""


class Reply(Protocol):
    """A successful v3 reply as translate reads it (proxy.v3.client.V3Reply is one)."""

    @property
    def request_id(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


# ---- actions ----------------------------------------------------------------------------------
CREATE_PERSON = "CreatePerson"
DELETE_PERSON = "DeletePerson"
COPY_PERSON = "CopyPerson"
GET_PERSON_BASE_INFO = "GetPersonBaseInfo"
MODIFY_PERSON_BASE_INFO = "ModifyPersonBaseInfo"
GET_PERSON_GROUP_INFO = "GetPersonGroupInfo"
GET_PERSON_LIST = "GetPersonList"
CREATE_GROUP = "CreateGroup"
GET_GROUP_LIST = "GetGroupList"
CREATE_FACE = "CreateFace"
DELETE_FACE = "DeleteFace"
DETECT_FACE = "DetectFace"
VERIFY_FACE = "VerifyFace"
SEARCH_FACES = "SearchFaces"
COMPARE_FACE = "CompareFace"

# ---- error codes the proxy acts on (everything else goes through the error map) --------------
GROUP_MISSING = frozenset({"InvalidParameterValue.GroupIdNotExist", "InvalidParameterValue.GroupIdNotExists"})
"""CreatePerson/CopyPerson into a group v3 does not have: the proxy creates it (v1 did implicitly)."""

GROUP_ALREADY_THERE = frozenset(
    {"InvalidParameterValue.GroupIdAlreadyExist", "InvalidParameterValue.GroupNameAlreadyExist"}
)
"""Another request (or proxy instance) created the group first: it exists, which is all we want."""

CONCURRENT_WRITE = frozenset({"FailedOperation.CreateFaceConcurrent", "FailedOperation.ConflictOperation"})
"""Another proxy instance is adding to the same person: retry after a short pause."""

PERSON_FACE_LIMIT = "InvalidParameterValue.PersonFaceNumExceed"
"""CreateFace past v3's 5 faces per person: the whole call is refused."""
