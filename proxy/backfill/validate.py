"""Checking one manifest row by the live path's own rules: tenant, ids (parser and id codec), image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proxy.backfill.manifest import ManifestRow, RowProblem
from proxy.domain.codes import V1Error
from proxy.domain.requests import Target
from proxy.handlers.ops import NEWPERSON
from proxy.translate.scope import Scope
from proxy.v1.form import V1Form
from proxy.v1.requests import build_target

SNIFF_BYTES = 16  # enough for the live path's format check (GIF magic) without reading the photo


@dataclass(frozen=True)
class Rules:
    """What a row is checked against: the configured tenants, their id scopes, where relative paths start."""

    tenants: frozenset[str]
    scope_of: Callable[[Target], Scope]
    base_dir: Path

    def image_path(self, image: str) -> Path:
        path = Path(image)
        return path if path.is_absolute() else self.base_dir / path


def check_row(row: ManifestRow, rules: Rules) -> RowProblem | None:
    """The first problem with the row, or None when the live path would accept it as a newperson."""
    if row.appid and row.appid not in rules.tenants:
        return RowProblem(row.line, f"unknown tenant appid {row.appid!r}: not among the config's tenants")
    if not row.image:
        return RowProblem(row.line, "image is empty: give a local path or an http(s) URL", -1300)
    try:
        head = b"" if row.is_url else _sniff(rules.image_path(row.image))
    except OSError as exc:
        return RowProblem(row.line, f"image {row.image!r}: {exc.strerror or exc}")
    scalars = {"appid": row.appid, "bucket": row.bucket, "person_id": row.person_id}
    if row.person_name is not None:
        scalars["person_name"] = row.person_name
    if row.tag is not None:
        scalars["tag"] = row.tag
    if row.is_url:
        scalars["url"] = row.image
    form = V1Form(scalars=scalars, arrays={"group_ids": row.group_ids}, blobs={} if row.is_url else {"image": head})
    try:
        target = build_target(form)  # -1301, -1313, -1300, -1400 exactly as a live request
        NEWPERSON.parse(form)
        scope = rules.scope_of(target)
        for v1_id in (row.person_id, *row.group_ids):
            scope.v3_id(v1_id)  # -1304 when too long once encoded in the tenant's namespace
    except V1Error as exc:
        return RowProblem(row.line, exc.message, exc.code)
    return None


def _sniff(path: Path) -> bytes:
    """The photo's first bytes; OSError when it is missing or unreadable (an empty file gives b"")."""
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    with path.open("rb") as handle:
        return handle.read(SNIFF_BYTES)
