"""Face data the proxy keeps that v3 cannot, and the write journal: open a store by URL (SQLite or PostgreSQL)."""

from __future__ import annotations

from proxy.store.base import (
    DEFAULT_POOL,
    FaceRecord,
    FaceStore,
    PersonRecord,
    PoolOptions,
    StoreError,
    StoreUnavailable,
)
from proxy.store.sqlite import MEMORY, open_sqlite

__all__ = [
    "FaceRecord",
    "FaceStore",
    "PersonRecord",
    "PoolOptions",
    "StoreError",
    "StoreUnavailable",
    "open_store",
    "sqlite_path",
]

SUPPORTED = (
    "sqlite:///ABSOLUTE/PATH.db, sqlite://RELATIVE/PATH.db, sqlite://:memory:, postgresql://USER@HOST:PORT/DATABASE"
)
SCHEMES = ("sqlite", "postgresql", "postgres")


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


def url_scheme(url: str) -> str | None:
    """The store kind a URL names ("sqlite" or "postgresql"), None when unsupported."""
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        return None
    return "sqlite" if scheme == "sqlite" else "postgresql"


async def open_store(url: str, *, password: str | None = None, pool: PoolOptions = DEFAULT_POOL) -> FaceStore:
    """Open (and migrate) the store a URL names; an unknown scheme is a ValueError naming the supported ones.

    `password` and `pool` apply to PostgreSQL (the password is never part of the URL in the config).
    """
    kind = url_scheme(url)
    if kind is None:
        raise ValueError(f"unsupported store URL {url!r}; supported: {SUPPORTED}")
    if kind == "sqlite":
        return await open_sqlite(sqlite_path(url))
    from proxy.store.postgres import open_postgres  # asyncpg only for those who use it

    return await open_postgres(url, password=password, pool=pool)
