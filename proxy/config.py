"""Settings -> the runtime objects a configuration compiles to, in one step shared by check-config, serve and reload.

Everything that can make a configuration unusable is found here, before anything is opened: the
error map with its overrides, the score calibration, the legacy keyring, the v3 endpoint, the TLS
files. `compile_settings` raises `SettingsError` naming every problem (path: expected, got), so
`check-config` refuses exactly what `serve` and a reload would refuse.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from proxy.handlers.context import TenantPolicy
from proxy.limits.groups import GROUP_ACTIONS
from proxy.limits.quota import QuotaPlan
from proxy.limits.redis_backend import RedisConfig
from proxy.settings import Limits, Problem, Settings, SettingsError, Tls, load_settings
from proxy.translate.errors import ErrorMap, ErrorMapError
from proxy.translate.scores import Calibration, calibration_from_config
from proxy.v1.auth import Keyring, LegacyKey
from proxy.v3.client import V3Endpoint
from proxy.v3.signer import Credential

ERROR_MAP_RESOURCE = "v3_errors.yaml"
"""The shipped error map, package data of proxy/data (config/v3_errors.yaml links to it)."""


def shipped_error_map() -> ErrorMap:
    """The error map the proxy ships (proxy/data/v3_errors.yaml); ErrorMapError if it is broken."""
    text = resources.files("proxy").joinpath("data", ERROR_MAP_RESOURCE).read_text(encoding="utf-8")
    return ErrorMap.from_yaml(text)


@dataclass(frozen=True)
class Compiled:
    """A usable configuration: the settings and what they compile to (no open resource in here)."""

    settings: Settings
    errors: ErrorMap
    calibration: Calibration
    tenant_calibrations: Mapping[str, Calibration]  # scores.tenants: a tenant's own curve and/or threshold
    keyring: Keyring
    tenants: Mapping[str, TenantPolicy]
    endpoint: V3Endpoint
    credential: Credential
    tls: ssl.SSLContext | None
    quota: QuotaPlan  # the upstream quota's budgets by v3 interface group
    redis: RedisConfig | None  # where the fleet's shared limits live; None: in this process

    @property
    def limits(self) -> Limits:
        return self.settings.limits


def compile_settings(settings: Settings) -> Compiled:
    """Compile `settings`; SettingsError with every problem when they cannot serve."""
    problems: list[Problem] = []
    errors = _error_map(settings, problems)
    calibration = _calibration(settings, problems)
    tenant_calibrations = _tenant_calibrations(settings, problems)
    keyring = _keyring(settings, problems)
    endpoint = _endpoint(settings, problems)
    tls = _tls(settings.tls, problems) if settings.tls else None
    quota = _quota(settings, problems)
    if problems or errors is None or calibration is None or keyring is None or endpoint is None:
        raise SettingsError(problems)
    up = settings.upstream
    return Compiled(
        settings=settings,
        errors=errors,
        calibration=calibration,
        tenant_calibrations=MappingProxyType(tenant_calibrations),
        keyring=keyring,
        tenants=MappingProxyType({t.appid: TenantPolicy(isolated=t.isolated) for t in settings.tenants}),
        endpoint=endpoint,
        credential=Credential(
            secret_id=up.secret_id.get_secret_value(),
            secret_key=up.secret_key.get_secret_value(),
            token=up.token.get_secret_value() if up.token else None,
        ),
        tls=tls,
        quota=quota,
        redis=_redis(settings),
    )


def _quota(settings: Settings, problems: list[Problem]) -> QuotaPlan:
    limits = settings.limits
    unknown = sorted(set(limits.quota_groups) - set(GROUP_ACTIONS))
    if unknown:
        known = ", ".join(sorted(GROUP_ACTIONS))
        problems.append(Problem("limits.quota_groups", f"interface groups among {known}", ", ".join(unknown)))
    return QuotaPlan(default_qps=limits.quota_qps, burst=limits.quota_burst, groups=dict(limits.quota_groups))


def _redis(settings: Settings) -> RedisConfig | None:
    redis = settings.redis
    if redis is None:
        return None
    return RedisConfig(
        url=redis.url,
        password=redis.password.get_secret_value() if redis.password else None,
        key_prefix=redis.key_prefix,
        timeout_s=redis.timeout_ms / 1000,
        cooldown_s=redis.cooldown_ms / 1000,
    )


def load_compiled(path: str) -> Compiled:
    """Read, validate and compile a configuration file; SettingsError with every problem."""
    return compile_settings(load_settings(path))


def _error_map(settings: Settings, problems: list[Problem]) -> ErrorMap | None:
    try:
        errors = shipped_error_map()
    except (OSError, ErrorMapError) as exc:
        problems.append(Problem("(shipped error map)", "a valid proxy/data/v3_errors.yaml", str(exc)))
        return None
    bad = False
    for code, value in settings.errors.overrides.items():
        try:
            errors.merged({code: value})
        except ErrorMapError as exc:
            bad = True
            problems.append(Problem(f"errors.overrides.{code}", "a v1 code from the v1 code table", _after_colon(exc)))
    return None if bad else errors.merged(settings.errors.overrides)


def _after_colon(exc: Exception) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def _calibration(settings: Settings, problems: list[Problem]) -> Calibration | None:
    scores = settings.scores
    try:
        return calibration_from_config(scores.calibration, scores.match_threshold)
    except ValueError as exc:
        problems.append(Problem("scores.calibration", "a monotone curve of [v3, v1] points in [0, 100]", str(exc)))
        return None


def _tenant_calibrations(settings: Settings, problems: list[Problem]) -> dict[str, Calibration]:
    """Each tenant of scores.tenants: its own calibration and threshold, the global ones filling in what it leaves."""
    compiled: dict[str, Calibration] = {}
    for appid in settings.scores.tenants:
        spec, threshold = settings.scores.of(appid)
        try:
            compiled[appid] = calibration_from_config(spec, threshold)
        except ValueError as exc:
            where = f"scores.tenants.{appid}.calibration"
            problems.append(Problem(where, "a monotone curve of [v3, v1] points in [0, 100]", str(exc)))
    return compiled


def _keyring(settings: Settings, problems: list[Problem]) -> Keyring | None:
    keys = [
        LegacyKey(appid=t.appid, secret_id=k.secret_id, secret_key=k.secret_key.get_secret_value())
        for t in settings.tenants
        for k in t.legacy_keys
    ]
    try:
        return Keyring(keys, appids=[t.appid for t in settings.tenants])
    except ValueError as exc:
        problems.append(Problem("tenants", "each legacy secret_id once", str(exc)))
        return None


def _endpoint(settings: Settings, problems: list[Problem]) -> V3Endpoint | None:
    up = settings.upstream
    try:
        return V3Endpoint(
            url=up.endpoint,
            region=up.region,
            connect_timeout=up.connect_timeout,
            read_timeout=up.read_timeout,
            deadline=up.deadline_s,
        )
    except ValueError as exc:
        problems.append(Problem("upstream.endpoint", "a bare https://host[:port] origin", str(exc)))
        return None


def _tls(tls: Tls, problems: list[Problem]) -> ssl.SSLContext | None:
    """A server context for the legacy listener from the PEM files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        problems.append(Problem("tls", "a readable PEM certificate and its key", str(exc)))
        return None
    return context
