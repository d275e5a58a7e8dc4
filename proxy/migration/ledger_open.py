"""Open the comparison ledger that lives beside the configured store (same SQLite file, own tables)."""

from __future__ import annotations

from proxy.migration.ledger import SqliteLedger
from proxy.store import sqlite_path


def open_ledger(store_url: str) -> SqliteLedger:
    """The ledger for ``store_url``; ValueError for a store kind without one."""
    scheme = store_url.partition("://")[0].lower()
    if scheme != "sqlite":
        raise ValueError(f"no comparison ledger for store URL scheme {scheme!r} (sqlite only)")
    return SqliteLedger(sqlite_path(store_url))
