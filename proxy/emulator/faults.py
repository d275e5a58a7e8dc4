"""Injected faults: latency, a QPS limit, error and drop rates, malformed bodies; seeded, changeable live."""

from __future__ import annotations

import enum
import random
import time
from collections import deque
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


class Outcome(enum.Enum):
    SERVE = "serve"
    RATE_LIMITED = "rate_limited"  # RequestLimitExceeded
    INTERNAL_ERROR = "internal_error"  # InternalError
    TIMEOUT = "timeout"  # FailedOperation.RequestTimeout
    DROP = "drop"  # close the connection without a reply
    MALFORMED = "malformed"  # 200 with a body that is not JSON


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. Rates are probabilities in [0, 1]; latency is `latency_ms` plus up to `jitter_ms`."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    qps_limit: float = 0.0  # 0 = unlimited
    internal_error_rate: float = 0.0
    timeout_rate: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("internal_error_rate", "timeout_rate", "drop_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        for name in ("latency_ms", "jitter_ms", "qps_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        """A config from a JSON object; keys not given keep `base`'s values."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("seed must be an integer or null")
                values[name] = value
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{name} must be a number")
                values[name] = float(value)
        return replace(base or cls(), **values)


@dataclass(frozen=True)
class Decision:
    delay_s: float
    outcome: Outcome


MAX_ADMISSIONS = 100_000


class FaultInjector:
    """Decides, per request, the delay and outcome; deterministic for a given seed and call order.

    While a QPS limit is set it also keeps when each request was let through (`admitted_at`,
    monotonic seconds, the latest MAX_ADMISSIONS) and how many it throttled: what
    `GET /_emulator/stats` reports, so a test measures the admitted rate where v3 would."""

    def __init__(self, config: FaultConfig | None = None, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self.admitted_at: deque[float] = deque(maxlen=MAX_ADMISSIONS)
        self.throttled = 0
        self.configure(config or FaultConfig())

    def reset_stats(self) -> None:
        self.admitted_at.clear()
        self.throttled = 0

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        self._config = config
        self._rng = random.Random(config.seed)
        self._recent: deque[float] = deque()
        self._active = any(
            (
                config.latency_ms,
                config.jitter_ms,
                config.qps_limit,
                config.internal_error_rate,
                config.timeout_rate,
                config.drop_rate,
                config.malformed_rate,
            )
        )

    def decide(self) -> Decision:
        config = self._config
        if not self._active:
            return _SERVE_NOW
        delay_ms = config.latency_ms
        if config.jitter_ms:
            delay_ms += self._rng.uniform(0.0, config.jitter_ms)
        delay_s = delay_ms / 1000.0
        if config.qps_limit and self._over_limit(config.qps_limit):
            self.throttled += 1
            return Decision(delay_s, Outcome.RATE_LIMITED)
        draw = self._rng.random()
        for rate, outcome in (
            (config.drop_rate, Outcome.DROP),
            (config.malformed_rate, Outcome.MALFORMED),
            (config.internal_error_rate, Outcome.INTERNAL_ERROR),
            (config.timeout_rate, Outcome.TIMEOUT),
        ):
            if draw < rate:
                return Decision(delay_s, outcome)
            draw -= rate
        return Decision(delay_s, Outcome.SERVE)

    def _over_limit(self, qps: float) -> bool:
        """Sliding one-second window: at most `qps` requests served in any second."""
        now = self._clock()
        recent = self._recent
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= qps:
            return True
        recent.append(now)
        self.admitted_at.append(now)
        return False


_SERVE_NOW = Decision(0.0, Outcome.SERVE)


@dataclass(frozen=True)
class FaultRule:
    """Answer matching calls of one action with a v3 error: after `skip` of them pass, the next `times` fail."""

    action: str
    code: str
    message: str = "Injected by a fault rule."
    skip: int = 0
    times: int = 1

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a rule is a JSON object {action, code, message?, skip?, times?}")
        unknown = set(data) - {"action", "code", "message", "skip", "times"}
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        for name in ("action", "code"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"rule {name} must be a non-empty string")
        for name in ("skip", "times"):
            value = data.get(name, 0 if name == "skip" else 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"rule {name} must be an integer >= 0")
        return cls(**data)


@dataclass
class _Armed:
    rule: FaultRule
    skip: int
    times: int


class FaultRules:
    """Per-request fault rules, a queue: a call of an action goes to the first armed rule of that action,
    which lets it pass (while skips remain) or answers it with its error (while failures remain)."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []

    def add(self, rules: list[FaultRule]) -> None:
        self._armed += [_Armed(rule, rule.skip, rule.times) for rule in rules]

    def clear(self) -> None:
        self._armed.clear()

    def pending(self) -> list[dict[str, Any]]:
        return [{**asdict(a.rule), "skip": a.skip, "times": a.times} for a in self._armed if a.times]

    def match(self, action: str) -> FaultRule | None:
        """The rule failing this call of `action`, or None when it is served."""
        for armed in self._armed:
            if armed.rule.action != action or not armed.times:
                continue
            if armed.skip:
                armed.skip -= 1
                return None
            armed.times -= 1
            return armed.rule
        return None
