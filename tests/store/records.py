"""Records the store suites write: awkward text, a face with every attribute set."""

from __future__ import annotations

import dataclasses

from proxy.domain.faces import FaceAttributes
from proxy.store.base import FaceRecord

AWKWARD = [
    "plain",
    "张三",
    "emoji 😀🧑‍🤝‍🧑",
    "quotes ' \" ` ; DROP TABLE face; --",
    "nul\x00inside",
    "t1.a%40b#c@d",
    "back\\slash/and/slash",
    "tab\tnewline\n",
    " leading and trailing ",
    "x" * 300,
    "",
    "\u2028\ufeff\U0010ffff",
    "soh\x01inside",  # PostgreSQL's NUL escape character, as data
    "\x010\x00\x011",
]


def face(namespace: str, face_id: str, person_id: str, tag: str | None = "t", **changes: object) -> FaceRecord:
    """A face record with every attribute set (``changes`` override attributes)."""
    attributes = FaceAttributes(
        x=10, y=-3, width=120.5, height=99.25, gender=1, age=37, expression=40, glass=True, pitch=-12, yaw=7, roll=0
    )
    attributes = dataclasses.replace(attributes, **changes)  # type: ignore[arg-type]
    return FaceRecord(namespace=namespace, face_id=face_id, person_id=person_id, tag=tag, attributes=attributes)
