"""Config reload on a running proxy: validate the file, swap the runtime whole, or keep the old one."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from aiohttp import web

from proxy.app import BODY_BUDGET, METRICS, RUNTIME, SESSION, build_runtime
from proxy.config import load_compiled
from proxy.settings import Problem, Settings, SettingsError

log = structlog.get_logger("proxy.reload")

# Settings a running process cannot change: they take effect on the next start only.
RESTART_ONLY: tuple[str, ...] = (
    "listen",
    "admin",
    "tls",
    "drain",
    "store",
    "redis",
    "upstream.pool_size",
    "limits.header_timeout_s",
    "limits.keepalive_timeout_s",
    "limits.max_connections",
    "logging",
)


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: applied or refused (with the problems), and what needs a restart."""

    applied: bool
    problems: tuple[str, ...] = ()
    restart_needed: tuple[str, ...] = ()


def _restart_needed(old: Settings, new: Settings) -> tuple[str, ...]:
    changed = []
    for name in RESTART_ONLY:
        head, _, tail = name.partition(".")
        a, b = getattr(old, head), getattr(new, head)
        if tail:
            a, b = getattr(a, tail), getattr(b, tail)
        if a != b:
            changed.append(name)
    return tuple(changed)


def reload_config(app: web.Application, path: str) -> ReloadOutcome:
    """Re-read `path`; on success new tenants, keys, credentials and maps serve the next request."""
    try:
        compiled = load_compiled(path)  # the same step check-config and serve take
    except SettingsError as exc:
        return _refused(app, path, exc.problems)
    settings = compiled.settings
    old = app[RUNTIME].current
    runtime = build_runtime(
        compiled, session=app[SESSION], store=old.services.store, metrics=app[METRICS], previous=old
    )
    restart = _restart_needed(old.settings, settings)
    app[RUNTIME].swap(runtime)  # the holder was set before the app froze: only its content changes
    app[BODY_BUDGET].capacity = settings.limits.body_budget_bytes
    app[METRICS].reloads.labels(result="applied").inc()
    log.info(
        "config.reloaded",
        path=path,
        tenants=[t.appid for t in settings.tenants],
        restart_needed=list(restart),
    )
    if restart:
        log.warning("config.restart_needed", path=path, settings=list(restart))
    return ReloadOutcome(applied=True, restart_needed=restart)


def _refused(app: web.Application, path: str, problems: list[Problem]) -> ReloadOutcome:
    app[METRICS].reloads.labels(result="refused").inc()
    texts = tuple(str(p) for p in problems)
    log.error(
        "config.reload_refused",
        path=path,
        problems=[{"path": p.path, "expected": p.expected, "got": p.got} for p in problems],
        keeps="the running configuration",
    )
    return ReloadOutcome(applied=False, problems=texts)
