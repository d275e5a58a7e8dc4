"""One running legacy service's parts: its config, the keyring and replay guard, the state and an HTTP session."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from proxy.emulator.facemodel import FaceModel
from proxy.legacy.models import LegacyState
from proxy.limits.replay import LocalReplayGuard
from proxy.v1.auth import Keyring, LegacyKey

MAX_BODY_BYTES = 1536 * 1024  # 002_: "每个请求的包体大小限制为1.5MB"
MAX_SIGNATURE_VALIDITY_S = 90 * 24 * 3600  # a multi-use signature may claim at most three months
SINGLE_USE_WINDOW_S = 300


@dataclass(frozen=True)
class Exchange:
    """One request as received and the reply as sent (kept for tests of a verbatim passthrough)."""

    path: str
    host: str | None
    authorization: str | None = field(repr=False)
    content_type: str | None
    body: bytes = field(repr=False)
    reply: bytes = field(repr=False)
    status: int


@dataclass(frozen=True)
class LegacyApp:
    """One v1 project: its appid and a SecretId/SecretKey pair that signs for it."""

    appid: str
    secret_id: str
    secret_key: str = field(repr=False)


@dataclass(frozen=True)
class LegacyConfig:
    """How to run a legacy service; every app pair is accepted, several pairs may share an appid."""

    apps: tuple[LegacyApp, ...] = (LegacyApp("1250000000", "AKIDlegacy", "legacy-secret-key"),)
    latency_ms: float = 0.0
    state_file: Path | None = None
    seed: int = 0
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if not self.apps:
            raise ValueError("at least one (appid, secret_id, secret_key) set is required")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")

    def keyring(self) -> Keyring:
        return Keyring(LegacyKey(a.appid, a.secret_id, a.secret_key) for a in self.apps)


class Legacy:
    """Everything one app instance serves from; reached through the app's `LEGACY` key."""

    def __init__(self, config: LegacyConfig, model: FaceModel | None = None) -> None:
        self.config = config
        self.model = model or FaceModel()
        self.state = LegacyState(self.model, seed=config.seed)
        self.keyring = config.keyring()
        self.replay = LocalReplayGuard()
        self.latency_s = config.latency_ms / 1000.0
        self.exchanges: collections.deque[Exchange] = collections.deque(maxlen=64)  # the latest, for tests
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def reset(self) -> None:
        """Forget every appid's groups, persons and faces."""
        self.state = LegacyState(self.model, seed=self.config.seed)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
