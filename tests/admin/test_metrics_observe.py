"""proxy.metrics.observe (bisection) leaves a histogram exactly as prometheus_client's own observe would."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from proxy.metrics import LATENCY_BUCKETS, SCORE_BUCKETS, count, observe


def _exposed(registry: CollectorRegistry) -> list[str]:
    """The exposition without the `_created` timestamps (they differ by when each histogram was made)."""
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


def _pair(buckets: tuple[float, ...]) -> tuple[CollectorRegistry, Histogram, CollectorRegistry, Histogram]:
    mine, theirs = CollectorRegistry(), CollectorRegistry()
    a = Histogram("h", "h", ("op",), buckets=buckets, registry=mine)
    b = Histogram("h", "h", ("op",), buckets=buckets, registry=theirs)
    return mine, a, theirs, b


def test_same_buckets_and_sum_as_prometheus_client() -> None:
    for buckets, values in (
        (LATENCY_BUCKETS, [0.0, 0.001, 0.005, 0.0050001, 0.1, 29.9, 30.0, 31.0, 1e9]),
        (SCORE_BUCKETS, [0.0, 4.99, 5.0, 5.01, 50.0, 87.3, 99.999, 100.0, 100.5, -1.0]),
    ):
        mine, a, theirs, b = _pair(buckets)
        for value in values:
            observe(a.labels("compare"), value)
            b.labels("compare").observe(value)
        assert _exposed(mine) == _exposed(theirs)


def test_nan_is_left_to_prometheus_client() -> None:
    mine, a, theirs, b = _pair(SCORE_BUCKETS)
    observe(a.labels("verify"), math.nan)
    b.labels("verify").observe(math.nan)
    assert _exposed(mine) == _exposed(theirs)


def test_count_is_inc_and_dec() -> None:
    mine, theirs = CollectorRegistry(), CollectorRegistry()
    a = Counter("c", "c", ("code",), registry=mine)
    b = Counter("c", "c", ("code",), registry=theirs)
    g_a = Gauge("g", "g", registry=mine)
    g_b = Gauge("g", "g", registry=theirs)
    for _ in range(3):
        count(a.labels("0"))
        b.labels("0").inc()
        count(g_a)
        g_b.inc()
    count(g_a, -1.0)
    g_b.dec()
    assert _exposed(mine) == _exposed(theirs)
