"""Metrics across `serve --workers N`: prometheus-client's multiprocess mode, one directory per server run.

The supervisor makes the directory and names it in $PROMETHEUS_MULTIPROC_DIR before forking; each
worker switches prometheus-client to file-backed values before it creates a metric
(`multiprocess_metrics`); any worker's /metrics renders every worker's values, counters and
histograms summed, the in-flight gauge summed over live workers; a dead worker is marked so its
live gauges stop counting while its counts stay in the totals.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, multiprocess, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def multiprocess_metrics() -> None:
    """In a worker, before any metric exists: values live in files of the shared directory."""
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def multiprocess_registry() -> CollectorRegistry:
    """A registry collecting every worker's files (what /metrics renders under --workers)."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def mark_worker_dead(pid: int) -> None:
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
