"""Saves and loads the account state as JSON (`--state FILE`), written atomically (tmp + os.replace)."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from proxy.emulator.models import EmulatorState, FaceRecord, GroupRecord, PersonRecord

FORMAT_VERSION = 1


def dump(state: EmulatorState) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "groups": [
            {
                "GroupId": g.group_id,
                "GroupName": g.name,
                "Tag": g.tag,
                "GroupExDescriptions": g.ex_descriptions,
                "FaceModelVersion": g.face_model_version,
                "Created": g.created_ms,
                "Updated": g.updated_ms,
                "Members": list(g.members),
            }
            for g in state.groups.values()
        ],
        "persons": [
            {
                "PersonId": p.person_id,
                "PersonName": p.name,
                "Gender": p.gender,
                "Created": p.created_ms,
                "Groups": p.groups,
                "Faces": [{"FaceId": f.face_id, "Image": base64.b64encode(f.image).decode("ascii")} for f in p.faces],
            }
            for p in state.persons.values()
        ],
    }


def restore(state: EmulatorState, data: dict[str, Any]) -> None:
    """Fill an empty `state` from `dump`'s output; faces are re-derived from their stored images."""
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported state file version {data.get('version')!r}")
    for g in data["groups"]:
        state.groups[g["GroupId"]] = GroupRecord(
            g["GroupId"],
            g["GroupName"],
            g["Tag"],
            list(g["GroupExDescriptions"]),
            g["FaceModelVersion"],
            int(g["Created"]),
            int(g["Updated"]),
            dict.fromkeys(g["Members"]),
        )
    for p in data["persons"]:
        faces = []
        for f in p["Faces"]:
            image = base64.b64decode(f["Image"])
            faces.append(FaceRecord(f["FaceId"], state.model.analyze(image).faces[0], image))
            state.face_ids.add(f["FaceId"])
        state.persons[p["PersonId"]] = PersonRecord(
            p["PersonId"],
            p["PersonName"],
            int(p["Gender"]),
            int(p["Created"]),
            faces,
            {k: list(v) for k, v in p["Groups"].items()},
        )


def save(state: EmulatorState, path: Path) -> None:
    write_atomically(path, json.dumps(dump(state), ensure_ascii=False).encode("utf-8"))


def write_atomically(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(state: EmulatorState, path: Path) -> bool:
    """Restore `state` from `path` if it exists; True if it did."""
    if not path.exists():
        return False
    restore(state, json.loads(path.read_bytes()))
    return True
