"""YAML + environment -> frozen, validated settings; every problem reported as path, expected, got."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

CONFIG_ENV = "V1PROXY_CONFIG"

# Secret fields: each may be given as `<name>`, `<name>_env` (an environment variable) or
# `<name>_file` (a file whose content, stripped, is the secret) — exactly one of them.
_SECRET_SUFFIXES = ("", "_env", "_file")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration."""

    path: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}, got {self.got}"


class SettingsError(Exception):
    """A configuration that cannot be used, with every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _resolve_secrets(
    data: Any, path: str, names: tuple[str, ...], required: tuple[str, ...], problems: list[Problem]
) -> Any:
    """Replace `<name>_env` / `<name>_file` by `<name>` holding the secret itself."""
    if not isinstance(data, Mapping):
        return data
    out = dict(data)
    for name in names:
        given = [name + s for s in _SECRET_SUFFIXES if name + s in out]
        if len(given) > 1:
            problems.append(Problem(f"{path}.{name}", "only one of " + ", ".join(given), "several"))
            continue
        if not given:
            if name in required:
                problems.append(Problem(f"{path}.{name}", f"one of {name}, {name}_env, {name}_file", "(missing)"))
            continue
        key = given[0]
        source = out.pop(key)
        out[name] = _UNRESOLVED
        if not isinstance(source, str) or not source:
            problems.append(Problem(f"{path}.{key}", "a non-empty string", type(source).__name__))
        elif key.endswith("_env"):
            if source in os.environ:
                out[name] = os.environ[source]
            else:
                problems.append(Problem(f"{path}.{key}", f"environment variable {source} to be set", "unset"))
        elif key.endswith("_file"):
            try:
                out[name] = Path(source).read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.append(Problem(f"{path}.{key}", f"a readable file {source}", str(exc.strerror)))
        else:
            out[name] = source
    return out


_UNRESOLVED = "(unresolved)"


def _resolve_all_secrets(data: Mapping[str, Any], problems: list[Problem]) -> dict[str, Any]:
    out = dict(data)
    out["upstream"] = _resolve_secrets(
        data.get("upstream"),
        "upstream",
        ("secret_id", "secret_key", "token"),
        ("secret_id", "secret_key"),
        problems,
    )
    if isinstance(data.get("store"), Mapping):
        out["store"] = _resolve_secrets(data["store"], "store", ("password",), (), problems)
    tenants = data.get("tenants")
    if isinstance(tenants, list):
        resolved = []
        for i, tenant in enumerate(tenants):
            if isinstance(tenant, Mapping) and isinstance(tenant.get("legacy_keys"), list):
                tenant = dict(tenant)
                tenant["legacy_keys"] = [
                    _resolve_secrets(key, f"tenants.{i}.legacy_keys.{j}", ("secret_key",), ("secret_key",), problems)
                    for j, key in enumerate(tenant["legacy_keys"])
                ]
            resolved.append(tenant)
        out["tenants"] = resolved
    if data.get("redis") is not None:
        out["redis"] = _resolve_secrets(data.get("redis"), "redis", ("password",), (), problems)
    return out


class Listen(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # uvloop (default) costs ~20% less CPU per request than asyncio's loop (README "Performance")
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"


class Upstream(_Frozen):
    endpoint: str = "https://iai.tencentcloudapi.com"
    region: str = "ap-guangzhou"
    secret_id: SecretStr
    secret_key: SecretStr
    token: SecretStr | None = None
    connect_timeout: float = Field(3.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)
    # total time one v3 call may take, connect to last byte (an upstream trickling bytes is cut here)
    deadline_s: float = Field(30.0, gt=0)
    pool_size: int = Field(100, ge=1)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _deadline(self) -> Upstream:
        if self.deadline_s < self.connect_timeout:
            raise ValueError(f"deadline_s ({self.deadline_s}) at least connect_timeout ({self.connect_timeout})")
        return self


class LegacyKeySettings(_Frozen):
    secret_id: str = Field(min_length=1)
    secret_key: SecretStr


class Tenant(_Frozen):
    appid: str = Field(min_length=1)
    legacy_keys: tuple[LegacyKeySettings, ...] = Field(min_length=1)
    # false: this tenant is alone on its v3 account and keeps clean, unprefixed v3 ids
    isolated: bool = True

    @field_validator("appid", mode="before")
    @classmethod
    def _appid(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Auth(_Frozen):
    # the longest validity a multi-use signature may claim (e - t); v1 allowed three months
    max_signature_validity_s: float = Field(90 * 24 * 3600, gt=0)
    # how long a single-use (e=0) signature is accepted after its t, and remembered against replay
    single_use_window_s: float = Field(300, gt=0)


class Limits(_Frozen):
    # v1 said 1.5 MB, later 6 MB
    max_body_bytes: int = Field(6 * 1024 * 1024, ge=1024)
    max_fields: int = Field(64, ge=4)
    # the request line and headers must be complete this long after their first byte (slowloris)
    header_timeout_s: float = Field(10.0, gt=0)
    # a kept-alive connection with no request started is closed after this
    keepalive_timeout_s: float = Field(15.0, gt=0)
    # a body must keep an average of body_min_rate_bytes_s after its first body_grace_s ...
    body_min_rate_bytes_s: int = Field(32 * 1024, ge=1)
    body_grace_s: float = Field(5.0, ge=0)
    # ... and arrive whole within body_timeout_s
    body_timeout_s: float = Field(60.0, gt=0)
    # open connections on the legacy listener; beyond: a 503 v1 answer and close
    max_connections: int = Field(4096, ge=1)
    # request bodies being read or served at once, by declared size; beyond: wait body_budget_wait_s, then 15
    body_budget_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    body_budget_wait_s: float = Field(2.0, ge=0)
    # requests of one tenant being served at once (after its signature checked out); beyond: 15
    max_inflight_per_tenant: int = Field(32, ge=1)

    # the upstream quota, per v3 interface group (proxy/limits/groups.py): calls per second for every
    # group (Tencent's default 50; 0: no quota), per-group overrides, and how many calls may go at once
    quota_qps: float = Field(50.0, ge=0)
    quota_groups: dict[str, float] = Field(default_factory=dict)
    quota_burst: int = Field(1, ge=1)
    # how long a v3 call may wait for a slot (and retry a v3 RequestLimitExceeded) before the app gets 15
    quota_wait_ms: int = Field(2000, ge=0)
    # without redis: live single-use signatures this process remembers per tenant (past it: 15)
    replay_capacity_per_tenant: int = Field(100_000, ge=1)

    @model_validator(mode="after")
    def _budget(self) -> Limits:
        if self.body_budget_bytes < self.max_body_bytes:
            raise ValueError(
                f"body_budget_bytes ({self.body_budget_bytes}) at least max_body_bytes ({self.max_body_bytes})"
            )
        return self

    @field_validator("quota_groups")
    @classmethod
    def _groups(cls, value: dict[str, float]) -> dict[str, float]:
        negative = sorted(name for name, qps in value.items() if qps < 0)
        if negative:
            raise ValueError(f"a rate >= 0 for every group; negative: {', '.join(negative)}")
        return value  # the group names are checked when compiling (proxy.config)


class Redis(_Frozen):
    # optional: the replay guard and the upstream quota shared by every worker and replica
    url: str
    password: SecretStr | None = None
    key_prefix: str = Field("v1proxy:", min_length=1)
    # per Redis command; after a failure Redis is left alone for cooldown_ms (the quota paces this
    # process alone meanwhile; single-use signatures are refused with 108)
    timeout_ms: int = Field(500, ge=10)
    cooldown_ms: int = Field(1000, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("a redis://HOST:PORT/DB, rediss:// or unix:// URL")
        if "@" in value.split("://", 1)[1].split("/", 1)[0]:
            raise ValueError("a URL without credentials (give password, password_env or password_file)")
        return value


class Faces(_Frozen):
    # v3 keeps no per-face attributes: one DetectFace per added image records what getfaceinfo needs.
    # false saves that call (half the v3 calls of newperson/addface); getfaceinfo then answers zeros.
    capture_attributes: bool = True


class Store(_Frozen):
    url: str = "sqlite:///var/lib/v1proxy/meta.db"
    # PostgreSQL only: the password (from password_env / password_file), never inside the URL
    password: SecretStr | None = None
    pool_min: int = Field(1, ge=0)
    pool_max: int = Field(10, ge=1)
    connect_timeout_s: float = Field(5.0, gt=0)
    command_timeout_s: float = Field(10.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        scheme, sep, rest = value.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in ("sqlite", "postgresql", "postgres") or not rest:
            raise ValueError("a sqlite:///PATH, sqlite://:memory: or postgresql://USER@HOST:PORT/DATABASE URL")
        if scheme != "sqlite" and ":" in rest.partition("@")[0] and "@" in rest:
            raise ValueError("a URL without a password: give it as store.password_env or store.password_file")
        return value

    @model_validator(mode="after")
    def _postgres_only(self) -> Store:
        if self.url.startswith("sqlite://") and self.password is not None:
            raise ValueError("store.password only with a postgresql:// URL")
        if self.pool_min > self.pool_max:
            raise ValueError(f"store.pool_min ({self.pool_min}) <= store.pool_max ({self.pool_max})")
        return self


class Journal(_Frozen):
    # the write journal (README "Write journal"): every v3 write is recorded before the call
    settle_after_s: float = Field(20.0, ge=0)  # an unknown outcome (timeout, dropped) is read back from v3 after this
    lease_s: float = Field(60.0, gt=0)  # a request's hold on its entry; past it, a crashed process's entry is settled
    sweep_interval_s: float = Field(5.0, ge=0)  # the background sweeper's period; 0: only requests settle entries
    # a settle that could not read v3 is retried after max(1 s, sweep_interval_s) doubled per attempt, at most this
    retry_max_s: float = Field(300.0, gt=0)
    keep_done_s: float = Field(86400.0, gt=0)  # settled entries are deleted this long after they were settled


CalibrationSpec = Literal["identity", "far-matched"] | tuple[tuple[float, float], ...]


class TenantScores(_Frozen):
    # this tenant's own curve (e.g. fitted by `v1proxy calibrate --tenant`); unset: the global one
    calibration: CalibrationSpec | None = None
    # this tenant's own threshold on the v1 scale; unset: the global one
    match_threshold: float | None = Field(None, ge=0, le=100)


class Scores(_Frozen):
    calibration: CalibrationSpec = "far-matched"
    # on the v1 (calibrated) scale: verify's ismatch is calibrated score >= this
    match_threshold: float = Field(80.0, ge=0, le=100)
    # appid -> its own calibration and/or match_threshold, overriding the two above for that tenant
    tenants: dict[str, TenantScores] = Field(default_factory=dict)

    @field_validator("tenants", mode="before")
    @classmethod
    def _appids(cls, value: Any) -> Any:
        if isinstance(value, Mapping):  # an unquoted appid in YAML is an int
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()}
        return value

    def of(self, appid: str | None) -> tuple[CalibrationSpec, float]:
        """The calibration and match threshold in force for ``appid`` (its own where set, else the global)."""
        own = self.tenants.get(appid) if appid is not None else None
        if own is None:
            return self.calibration, self.match_threshold
        return (
            self.calibration if own.calibration is None else own.calibration,
            self.match_threshold if own.match_threshold is None else own.match_threshold,
        )


class Errors(_Frozen):
    # v3 error code -> v1 code, on top of config/v3_errors.yaml
    overrides: dict[str, int] = Field(default_factory=dict)


class Logging(_Frozen):
    format: Literal["json", "console", "auto"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class Admin(_Frozen):
    # health, readiness, metrics and reload; never the legacy port
    host: str = "127.0.0.1"
    port: int = Field(9100, ge=0, le=65535)
    # /readyz also asks v3 (a cheap call) at most this often; 0: never (readiness = local checks)
    upstream_check_s: float = Field(0, ge=0)


class Tls(_Frozen):
    # PEM files; the legacy listener then speaks https
    cert_file: str = Field(min_length=1)
    key_file: str = Field(min_length=1)


class Drain(_Frozen):
    # on SIGTERM: stop accepting, let in-flight requests finish for at most this long, exit 0
    grace_s: float = Field(30.0, gt=0)


class ShadowTenant(_Frozen):
    # share of this tenant's shadowed reads also run on v3 and compared
    sample_percent: float = Field(100.0, ge=0, le=100)


class Shadow(_Frozen):
    """Comparison of v1 and v3 answers for tenants in shadow: budget, noise, what is kept, readiness."""

    # share of a shadowed tenant's reads also run on v3 and compared (per tenant: tenants.APPID.sample_percent)
    sample_percent: float = Field(100.0, ge=0, le=100)
    tenants: dict[str, ShadowTenant] = Field(default_factory=dict)
    # at most this many shadow calls per second over all tenants (v3 twins and v1 replays together),
    # so the shadow never spends the live traffic's v3 quota (about 50 requests/s per interface group)
    max_calls_per_s: float = Field(10.0, gt=0)
    # share of compared reads also replayed to v1 a second time, to measure v1's own noise
    noise_percent: float = Field(5.0, ge=0, le=100)
    disagreements_kept: int = Field(200, ge=1, le=100_000)  # the latest disagreements, rotating
    pairs_kept: int = Field(100_000, ge=10, le=10_000_000)  # score pairs per tenant × op, rotating
    # the report's verdict: "ready for canary" at this agreement over at least this many comparisons
    ready_agreement_percent: float = Field(99.5, gt=0, le=100)
    ready_min_comparisons: int = Field(1000, ge=1)

    @field_validator("tenants", mode="before")
    @classmethod
    def _appids(cls, value: Any) -> Any:
        if isinstance(value, Mapping):  # an unquoted appid in YAML is an int
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()}
        return value


# The staged migration's route grammar (the router, proxy.migration.routes, reads the same strings).
V1_OPS = frozenset(
    {
        "newperson", "delperson", "addface", "delface", "setinfo", "getinfo", "getgroupids",
        "getpersonids", "getfaceids", "getfaceinfo", "verify", "identify", "compare",
    }
)  # fmt: skip
_ROUTE = re.compile(r"(v1|shadow|v3)|canary\s*:?\s*(\d{1,3}(?:\.\d{1,2})?)\s*%?")


def normal_route(text: str) -> str:
    """A route in its one spelling: ``v1``, ``shadow``, ``v3`` or ``canary N%``; ValueError otherwise."""
    match = _ROUTE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"a route is v1, shadow, canary N% or v3, not {text!r}")
    if match.group(1):
        return match.group(1)
    percent = float(match.group(2))
    if percent > 100:
        raise ValueError(f"a canary percentage is 0..100, not {percent:g}")
    return f"canary {percent:g}%"


class LegacyBackend(_Frozen):
    """The legacy v1 service the v1 side of a migration reaches (the app's requests go there verbatim)."""

    endpoint: str = Field(pattern=r"^https?://[^/?#\s]+/?$")  # scheme://host[:port]
    connect_timeout: float = Field(3.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)


class MigrationTenant(_Frozen):
    """One tenant's routes: the tenant's route, per-op overrides, and whether v1 still gets writes in v3."""

    route: str = "v3"
    ops: dict[str, str] = Field(default_factory=dict)
    retire_v1: bool = False

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        return normal_route(value)

    @field_validator("ops")
    @classmethod
    def _ops(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - V1_OPS)
        if unknown:
            raise ValueError(f"unknown v1 op(s) {', '.join(unknown)}; ops are {', '.join(sorted(V1_OPS))}")
        return {op: normal_route(route) for op, route in value.items()}


class Outbox(_Frozen):
    """Replays of writes owed to the other backend: retries with exponential backoff, surviving restarts."""

    retry_base_s: float = Field(0.5, gt=0)
    retry_max_s: float = Field(60.0, gt=0)
    max_attempts: int = Field(100, ge=1)  # then the entry is failed (kept, counted, logged)
    batch: int = Field(50, ge=1, le=1000)
    poll_s: float = Field(0.2, gt=0)
    # a replayer holds the entries it took this long; after a crash, another process takes them once it ran out
    lease_s: float = Field(30.0, gt=0)


class Migration(_Frozen):
    """Staged migration: per tenant x op routes v1 | shadow | canary N% | v3, and the legacy backend."""

    legacy: LegacyBackend | None = None
    default_route: str = "v3"
    tenants: dict[str, MigrationTenant] = Field(default_factory=dict)
    outbox: Outbox = Outbox()

    @field_validator("default_route")
    @classmethod
    def _default_route(cls, value: str) -> str:
        return normal_route(value)

    @field_validator("tenants", mode="before")
    @classmethod
    def _tenant_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k) if isinstance(k, int) and not isinstance(k, bool) else k: v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _needs_legacy(self) -> Migration:
        if self.legacy is None:
            uses_v1 = [self.default_route] + [t.route for t in self.tenants.values()]
            uses_v1 += [r for t in self.tenants.values() for r in t.ops.values()]
            if any(r != "v3" for r in uses_v1):
                raise ValueError("routes other than v3 need migration.legacy.endpoint (the legacy v1 service)")
        return self

    def route(self, appid: str, op: str) -> str:
        """The route of one tenant's op (normal spelling): the op override, else the tenant's, else the default."""
        tenant = self.tenants.get(appid)
        if tenant is None:
            return self.default_route
        return tenant.ops.get(op, tenant.route)

    def retire_v1(self, appid: str) -> bool:
        tenant = self.tenants.get(appid)
        return tenant.retire_v1 if tenant is not None else False


class Settings(_Frozen):
    listen: Listen = Listen()
    admin: Admin = Admin()
    tls: Tls | None = None
    drain: Drain = Drain()
    upstream: Upstream
    tenants: tuple[Tenant, ...] = Field(min_length=1)
    auth: Auth = Auth()
    limits: Limits = Limits()
    redis: Redis | None = None
    store: Store = Store()
    journal: Journal = Journal()
    faces: Faces = Faces()
    scores: Scores = Scores()
    errors: Errors = Errors()
    logging: Logging = Logging()
    shadow: Shadow = Shadow()
    migration: Migration = Migration()

    @model_validator(mode="after")
    def _unique(self) -> Settings:
        appids = [t.appid for t in self.tenants]
        dupes = sorted({a for a in appids if appids.count(a) > 1})
        if dupes:
            raise ValueError(f"each tenant appid once; repeated: {', '.join(dupes)}")
        ids = [k.secret_id for t in self.tenants for k in t.legacy_keys]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"each legacy secret_id belongs to one tenant; repeated: {', '.join(dupes)}")
        unknown = sorted(set(self.shadow.tenants) - set(appids))
        if unknown:
            raise ValueError(f"shadow.tenants names appids that are not tenants: {', '.join(unknown)}")
        unknown = sorted(set(self.scores.tenants) - set(appids))
        if unknown:
            raise ValueError(f"scores.tenants names appids that are not tenants: {', '.join(unknown)}")
        if self.admin.port and self.admin.port == self.listen.port:
            raise ValueError(f"admin.port different from listen.port (both {self.listen.port})")
        self._isolation()
        self._tenant_share()
        strangers = sorted(set(self.migration.tenants) - set(appids))
        if strangers:
            raise ValueError(f"migration.tenants names appids that are not tenants: {', '.join(strangers)}")
        return self

    def _tenant_share(self) -> None:
        """With several tenants, one at its in-flight cap of largest bodies leaves room for another's body."""
        limits = self.limits
        one_tenant = limits.max_inflight_per_tenant * limits.max_body_bytes
        if len(self.tenants) > 1 and one_tenant + limits.max_body_bytes > limits.body_budget_bytes:
            raise ValueError(
                f"limits.body_budget_bytes ({limits.body_budget_bytes}) at least (max_inflight_per_tenant + 1) x "
                f"max_body_bytes ({one_tenant + limits.max_body_bytes}) when several tenants share the proxy: "
                "else one tenant's uploads can hold the whole budget and starve the others"
            )

    def _isolation(self) -> None:
        """`isolated: false` (unprefixed v3 ids) only for a tenant alone on its v3 credentials."""
        shared = [t for t in self.tenants if not t.isolated]
        if shared and len(self.tenants) > 1:
            alone, other = shared[0], next(t for t in self.tenants if t is not shared[0])
            raise ValueError(
                f"tenant {alone.appid} has isolated: false but shares the v3 credentials (upstream) with "
                f"tenant {other.appid}; it could list, read, rename and delete that tenant's persons. "
                "Set isolated: true, or give it a proxy of its own"
            )


def _problems(error: ValidationError) -> list[Problem]:
    problems = []
    items = error.errors(include_url=False)
    for item in items:
        if item["type"] == "too_short" and isinstance(item.get("input"), list) and item["input"]:
            continue  # pydantic's echo of a failing element, already reported by that element
        path = ".".join(str(p) for p in item["loc"]) or "(top level)"
        expected = item["msg"]
        if expected.startswith("Value error, "):
            expected = expected[len("Value error, ") :]
        got = "(missing)" if item["type"] == "missing" else _show(item.get("input"))
        problems.append(Problem(path, expected, got))
    return problems


_URL_CREDENTIALS = re.compile(r"(://)[^/@]*@")


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        # never echo secrets back: show keys only
        return "{" + ", ".join(str(k) for k in value) + "}"
    if isinstance(value, str):
        value = _URL_CREDENTIALS.sub(r"\1***@", value)  # a password given inside a URL
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_settings(data: Any) -> Settings:
    """Validate an already-loaded mapping."""
    if not isinstance(data, Mapping):
        raise SettingsError([Problem("(top level)", "a mapping of settings", type(data).__name__)])
    problems: list[Problem] = []
    resolved = _resolve_all_secrets(data, problems)
    try:
        settings = Settings.model_validate(resolved)
    except ValidationError as exc:
        problems.extend(_problems(exc))
    if problems:
        raise SettingsError(problems)
    return settings


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a YAML configuration file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError([Problem(str(path), "a readable file", exc.strerror or str(exc))]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise SettingsError([Problem(str(path), "valid YAML", f"a syntax error at {where}")]) from None
    return parse_settings(data)


def config_path(explicit: str | None) -> str:
    """The config file to use: the flag, else $V1PROXY_CONFIG."""
    path = explicit or os.environ.get(CONFIG_ENV)
    if not path:
        raise SettingsError([Problem("--config", f"a file path (or ${CONFIG_ENV})", "nothing")])
    return path
