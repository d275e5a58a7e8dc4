"""The real Redis for tests: $V1PROXY_TEST_REDIS_URL (default redis://127.0.0.1:6379/0), a random key prefix per run.

Unreachable and the variable unset: the test is skipped, saying why. Unreachable and the variable
SET: the test fails (CI sets it, so CI never skips silently). Every key under the run's prefix is
deleted afterwards; nothing else is touched (others use the same Redis at the same time).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from redis.exceptions import RedisError

REDIS_URL_ENV = "V1PROXY_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class RedisTarget:
    """Where a test's Redis is, and the key prefix it owns."""

    url: str  # without credentials
    key_prefix: str
    password: str | None = field(default=None, repr=False)

    def settings(self, **extra: Any) -> dict[str, Any]:
        """The proxy's `redis:` section for this target."""
        section: dict[str, Any] = {"url": self.url, "key_prefix": self.key_prefix, **extra}
        if self.password:
            section["password"] = self.password
        return section

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, password=self.password, socket_connect_timeout=2, socket_timeout=5)


def _split_password(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), parts.password


def redis_target_or_skip(prefix_hint: str = "") -> RedisTarget:
    given = os.environ.get(REDIS_URL_ENV)
    url, password = _split_password(given or DEFAULT_REDIS_URL)
    probe = redis.Redis.from_url(url, password=password, socket_connect_timeout=2, socket_timeout=2)
    try:
        probe.ping()
    except (RedisError, OSError) as exc:
        if given:
            pytest.fail(f"{REDIS_URL_ENV} is set but Redis at {url} is unreachable: {exc}")
        pytest.skip(f"no Redis at {url} ({type(exc).__name__}); set {REDIS_URL_ENV} to require one")
    finally:
        probe.close()
    return RedisTarget(url=url, key_prefix=f"v1proxy-test:{prefix_hint}{secrets.token_hex(6)}:", password=password)


def delete_prefix(target: RedisTarget) -> None:
    client = target.client()
    try:
        keys = list(client.scan_iter(match=target.key_prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_target() -> Iterator[RedisTarget]:
    """A reachable Redis and a key prefix of this test's own, emptied afterwards."""
    target = redis_target_or_skip()
    try:
        yield target
    finally:
        delete_prefix(target)
