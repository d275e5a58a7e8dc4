"""Open the comparison ledger in the configured store's database (SQLite file or PostgreSQL), own tables."""

from __future__ import annotations

from proxy.migration.ledger import Ledger, SqliteLedger
from proxy.settings import Settings
from proxy.store import sqlite_path, url_scheme


async def open_ledger(settings: Settings) -> Ledger:
    """The ledger beside the store ``settings`` name; its tables come with the store's schema (open the store first).

    ValueError for a store URL that names no supported database.
    """
    store = settings.store
    shadow = settings.shadow
    kind = url_scheme(store.url)
    if kind == "sqlite":
        return SqliteLedger(sqlite_path(store.url), sample_size=shadow.disagreements_kept, pairs_kept=shadow.pairs_kept)
    if kind == "postgresql":
        import asyncpg  # only for those who use PostgreSQL

        from proxy.migration.ledger_postgres import PostgresLedger

        password = store.password.get_secret_value() if store.password is not None else None
        pool = await asyncpg.create_pool(
            dsn=store.url, password=password, min_size=0, max_size=2, timeout=store.connect_timeout_s
        )
        return PostgresLedger(pool, sample_size=shadow.disagreements_kept, pairs_kept=shadow.pairs_kept)
    raise ValueError(f"no comparison ledger for store URL {store.url!r}")
