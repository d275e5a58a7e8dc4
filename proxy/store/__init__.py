"""Face data the proxy keeps that v3 cannot: open a store by URL (SQLite first, behind FaceStore)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from proxy.store.base import FaceRecord, FaceStore, PersonRecord, StoreError
from proxy.store.sqlite import MEMORY, open_sqlite

__all__ = ["FaceRecord", "FaceStore", "PersonRecord", "StoreError", "open_store", "sqlite_path"]

SUPPORTED = "sqlite:///ABSOLUTE/PATH.db, sqlite://RELATIVE/PATH.db, sqlite://:memory: (postgresql:// later)"


def sqlite_path(url: str) -> str:
    """The file path (or ":memory:") of a sqlite URL: everything after "sqlite://".

    "sqlite:///var/lib/x.db" -> "/var/lib/x.db" (absolute), "sqlite://data/x.db" -> "data/x.db"
    (relative to the working directory), "sqlite://:memory:" -> ":memory:".
    SQLAlchemy-style "sqlite:////abs.db" is accepted too, as the same absolute path.
    """
    rest = url[len("sqlite://") :]
    if not rest:
        raise ValueError(f"store URL {url!r} names no file; supported: {SUPPORTED}")
    if rest == MEMORY:
        return MEMORY
    return "/" + rest.lstrip("/") if rest.startswith("/") else rest


async def _open_sqlite_url(url: str) -> FaceStore:
    return await open_sqlite(sqlite_path(url))


_OPENERS: Mapping[str, Callable[[str], Awaitable[FaceStore]]] = {"sqlite": _open_sqlite_url}


def open_store(url: str) -> Awaitable[FaceStore]:
    """Open the store a URL names; an unknown scheme is a ValueError naming the supported ones."""
    scheme, sep, _ = url.partition("://")
    opener = _OPENERS.get(scheme.lower()) if sep else None
    if opener is None:
        raise ValueError(f"unsupported store URL {url!r}; supported: {SUPPORTED}")
    return opener(url)
