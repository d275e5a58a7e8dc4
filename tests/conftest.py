"""Fixtures shared by every test package: the real services (Redis; PostgreSQL in fixtures_pg)."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures_redis", "tests.fixtures_pg"]
