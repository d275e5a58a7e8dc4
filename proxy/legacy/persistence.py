"""Saves and loads the legacy service's state as JSON (``--state FILE``), written atomically (tmp + fsync + rename).

Faces are stored with their image and re-measured on load, so a file stays valid across face model changes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from proxy.emulator.persistence import write_atomically
from proxy.legacy.models import FaceEntry, LegacyState, PersonEntry
from proxy.legacy.scoring import image_digest

FORMAT_VERSION = 1


def dump(state: LegacyState) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "accounts": [
            {
                "appid": account.appid,
                "groups": {group_id: list(members) for group_id, members in account.groups.items()},
                "persons": [
                    {
                        "person_id": p.person_id,
                        "person_name": p.name,
                        "tag": p.tag,
                        "group_ids": list(p.group_ids),
                        "faces": [
                            {"face_id": f.face_id, "tag": f.tag, "image": base64.b64encode(f.image).decode("ascii")}
                            for f in p.faces
                        ],
                    }
                    for p in account.persons.values()
                ],
            }
            for account in state.accounts.values()
        ],
    }


def restore(state: LegacyState, data: dict[str, Any]) -> None:
    """Fill an empty ``state`` from `dump`'s output."""
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported legacy state file version {data.get('version')!r}")
    for saved in data["accounts"]:
        account = state.account(str(saved["appid"]))
        for p in saved["persons"]:
            person = PersonEntry(str(p["person_id"]), str(p["person_name"]), str(p["tag"]), list(p["group_ids"]))
            for f in p["faces"]:
                image = base64.b64decode(f["image"])
                face = state.model.analyze(image).faces[0]
                entry = FaceEntry(str(f["face_id"]), person.person_id, face, image, image_digest(image), f["tag"])
                person.faces.append(entry)
                account.faces[entry.face_id] = entry
                state.claim_face_id(entry.face_id)
            account.persons[person.person_id] = person
        account.groups = {str(g): dict.fromkeys(members) for g, members in saved["groups"].items()}


def save(state: LegacyState, path: Path) -> None:
    write_atomically(path, json.dumps(dump(state), ensure_ascii=False).encode("utf-8"))


def load(state: LegacyState, path: Path) -> bool:
    """Restore ``state`` from ``path`` if it exists; True if it did."""
    if not path.exists():
        return False
    restore(state, json.loads(path.read_bytes()))
    return True
