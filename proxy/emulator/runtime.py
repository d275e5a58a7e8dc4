"""One running emulator's parts: config, account state, fault injector, credentials, HTTP session."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from proxy.emulator.facemodel import FaceModel
from proxy.emulator.faults import FaultConfig, FaultInjector, FaultRules
from proxy.emulator.models import EmulatorState

# The regions IAI 2020-03-03 is offered in (Tencent Cloud's region list for the product); X-TC-Region is
# optional for IAI, but a region given outside these is answered UnsupportedRegion, as v3 does.
IAI_REGIONS: frozenset[str] = frozenset(
    {
        "ap-beijing", "ap-guangzhou", "ap-shanghai", "ap-hongkong", "ap-singapore", "ap-mumbai", "ap-seoul",
        "ap-tokyo", "ap-bangkok", "ap-jakarta", "na-ashburn", "na-siliconvalley", "na-toronto", "eu-frankfurt",
        "ap-shanghai-fsi", "ap-shenzhen-fsi",
    }
)  # fmt: skip


@dataclass(frozen=True)
class EmulatorConfig:
    """How to run an emulator. `credentials` are (SecretId, SecretKey) pairs.

    `tokens` are (SecretId, token) pairs: that SecretId is a temporary (STS) credential whose calls
    must carry its token in X-TC-Token. `regions`: the regions X-TC-Region may name."""

    credentials: tuple[tuple[str, str], ...] = (("AKIDemulator", "emulator-secret-key"),)
    tokens: tuple[tuple[str, str], ...] = ()
    regions: frozenset[str] = IAI_REGIONS
    faults: FaultConfig = field(default_factory=FaultConfig)
    state_file: Path | None = None
    save_interval_s: float = 0.0  # > 0: also save --state that often, not only at shutdown
    seed: int | None = None  # FaceIds
    clock_skew_s: int = 300

    def __post_init__(self) -> None:
        if not self.credentials:
            raise ValueError("at least one (secret_id, secret_key) pair is required")
        strangers = {secret_id for secret_id, _ in self.tokens} - {secret_id for secret_id, _ in self.credentials}
        if strangers:
            raise ValueError(f"tokens for SecretIds without a key: {', '.join(sorted(strangers))}")

    def __repr__(self) -> str:  # never print keys
        ids = ", ".join(secret_id for secret_id, _ in self.credentials)
        return f"EmulatorConfig(secret_ids=[{ids}], faults={self.faults!r}, state_file={self.state_file!r})"


class Emulator:
    """Everything one app instance serves from; reached through the app's `EMULATOR` key."""

    def __init__(self, config: EmulatorConfig, model: FaceModel | None = None) -> None:
        self.config = config
        self.model = model or FaceModel()
        self.state = EmulatorState(self.model, seed=config.seed)
        self.faults = FaultInjector(config.faults)
        self.rules = FaultRules()
        self.credentials: dict[str, str] = dict(config.credentials)
        self.tokens: dict[str, str] = dict(config.tokens)
        self.inflight = 0  # v3 requests being served now, and the most at once since the last stats reset
        self.peak_inflight = 0
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def reset(self) -> None:
        """Forget every group, person and face, and all injected faults and fault rules."""
        self.state = EmulatorState(self.model, seed=self.config.seed)
        self.faults.configure(FaultConfig())
        self.rules.clear()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
