"""Valid v3 stand-ins for v1 person names and v3 group names (the exact v1 text lives in the store).

v3 rules (SDK models.py / errorcodes.py): PersonName is [1, 60] characters, may repeat, and
"只支持中英文、-、_、数字" (PersonNameIllegal); GroupName is [1, 60] characters, must be unique
in the account, same character set (GroupNameIllegal). "中" is taken conservatively as the
CJK Unified Ideographs block U+4E00–U+9FFF, "英" as ASCII letters.

v1 names and tags allowed spaces, slashes, emoji and 60+ characters; v3 only needs a valid
name, since the proxy answers v1 reads from its own store.
"""

from __future__ import annotations

import hashlib
import re

V3_NAME_MAX = 60

_NAME_RE = re.compile(r"[A-Za-z0-9\-_\u4e00-\u9fff]+")
_INVALID_RUN_RE = re.compile(r"[^A-Za-z0-9\-_\u4e00-\u9fff]+")
_GROUP_NAME_VERBATIM_RE = re.compile(r"[A-Za-z0-9\-_]{1,60}")
_HASHED_GROUP_PREFIX = "h-"


def is_v3_name(text: str) -> bool:
    """True if ``text`` is a valid v3 PersonName/GroupName (charset and 1–60 characters)."""
    return len(text) <= V3_NAME_MAX and _NAME_RE.fullmatch(text) is not None


def _sanitise(text: str) -> str:
    """Runs of characters v3 refuses become one ``_``; trimmed to 60; edge underscores stripped."""
    return _INVALID_RUN_RE.sub("_", text)[:V3_NAME_MAX].strip("_")


def v3_person_name(v1_name: str | None, v1_person_id: str) -> str:
    """A valid v3 PersonName: the v1 name if v3 accepts it, else a deterministic stand-in, never empty."""
    if v1_name and is_v3_name(v1_name):
        return v1_name
    for candidate in (v1_name or "", v1_person_id):
        stand_in = _sanitise(candidate)
        if stand_in:
            return stand_in
    digest = hashlib.sha256(v1_person_id.encode("utf-8", "surrogatepass")).hexdigest()
    return "person_" + digest[:16]


def v3_group_name(v3_group_id: str) -> str:
    """A v3 GroupName unique per group id: the id itself when it is a valid name, else ``h-`` + SHA-256.

    Verbatim names never start with ``h-`` (such ids are hashed too), so verbatim and hashed
    names cannot collide; two hashed names collide only on a 160-bit hash collision.
    """
    if _GROUP_NAME_VERBATIM_RE.fullmatch(v3_group_id) and not v3_group_id.startswith(_HASHED_GROUP_PREFIX):
        return v3_group_id
    return _HASHED_GROUP_PREFIX + hashlib.sha256(v3_group_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]
