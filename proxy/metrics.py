"""Prometheus metrics of one proxy app, in its own registry, with bounded labels only."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from proxy.domain.codes import V1_CODES
from proxy.handlers.ops import OPS
from proxy.multiprocess import multiprocess_dir, multiprocess_registry
from proxy.translate.scores import Calibration
from proxy.v3.client import V3CallRecord
from proxy.v3.errors import TRANSPORT_CODES

UNKNOWN = "unknown"
OTHER = "other"
SIGNATURE_CODES = range(4, 15)  # v1 codes 4-14: the Authorization header was refused
SCORE_BUCKETS = tuple(float(b) for b in range(0, 101, 5))
# what the legacy listener cuts or refuses (proxy.v1.server, proxy.v1.routes)
CONNECTION_EVENTS = ("client_hangup", "body_timeout", "header_timeout", "connection_cap", "bad_http", "http_error")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_ACTION = re.compile(r"[A-Za-z]{1,64}")

# The v1 op being served by the current task, so that a score seen deep in a handler gets its op.
_current_op: ContextVar[str] = ContextVar("metrics_op", default=UNKNOWN)


def op_label(op: str | None) -> str:
    """A v1 op from the known op table, anything else 'unknown' (no raw paths as labels)."""
    return op if op is not None and op in OPS else UNKNOWN


def code_label(code: int | None) -> str:
    return str(code) if code is not None and (code == 0 or code in V1_CODES) else OTHER


def observe(histogram: Any, amount: float) -> None:
    """``histogram.observe(amount)`` (a labelled child) with the bucket found by bisection, not a linear scan.

    Same effect as prometheus_client's Histogram.observe without exemplars: the sum grows by
    `amount`, the first bucket whose upper bound is >= `amount` by one (tests/admin/test_metrics_observe)."""
    if amount != amount:  # NaN: no bucket holds it
        histogram.observe(amount)
        return
    histogram._sum.inc(amount)
    histogram._buckets[bisect_left(histogram._upper_bounds, amount)].inc(1)


def count(counter: Any, amount: float = 1.0) -> None:
    """``counter.inc(amount)`` (a labelled child, or a gauge) on its value directly: what inc() does for amount >= 0."""
    counter._value.inc(amount)


class Metrics:
    """The proxy's counters and histograms; `render()` is the /metrics body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "v1proxy_requests", "v1 requests by tenant appid, op and v1 code", ("tenant", "op", "code"), registry=r
        )
        self.request_seconds = Histogram(
            "v1proxy_request_seconds", "whole v1 request latency", ("op",), buckets=LATENCY_BUCKETS, registry=r
        )
        self.in_flight = Gauge(
            "v1proxy_requests_in_flight", "v1 requests being served", registry=r, multiprocess_mode="livesum"
        )
        self.v3_seconds = Histogram(
            "v1proxy_v3_call_seconds",
            "latency of each v3 call, by action",
            ("action",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.v3_errors = Counter(
            "v1proxy_v3_errors", "v3 calls that failed, by action and v3 error code", ("action", "code"), registry=r
        )
        self.score_raw = Histogram(
            "v1proxy_score_raw", "v3 scores before calibration", ("op",), buckets=SCORE_BUCKETS, registry=r
        )
        self.score_calibrated = Histogram(
            "v1proxy_score_calibrated", "scores answered on the v1 scale", ("op",), buckets=SCORE_BUCKETS, registry=r
        )
        self.signature_failures = Counter(
            "v1proxy_signature_failures", "refused Authorization headers, by v1 code", ("code",), registry=r
        )
        self.reloads = Counter("v1proxy_config_reloads", "configuration reloads by result", ("result",), registry=r)
        self.connection_events = Counter(
            "v1proxy_connection_events",
            "connections and requests cut or refused without a handler's answer, by reason",
            ("reason",),
            registry=r,
        )
        for reason in CONNECTION_EVENTS:
            self.connection_events.labels(reason=reason)
        self._tenants: Collection[str] = frozenset()
        self._v3_codes: Collection[str] = frozenset()
        self._children: dict[tuple[object, ...], Any] = {}  # labels() looked up once per label set
        # per request: the children of one (tenant, op, code) label set, and of one op's scores
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}
        self._score_children: dict[str, tuple[Any, Any]] = {}
        self._v3_children: dict[str, Any] = {}
        for code in SIGNATURE_CODES:  # present from the start, so a rate() has a zero to start from
            self.signature_failures.labels(code=str(code))

    def _child(self, metric: MetricWrapperBase, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def bound(self, *, tenants: Collection[str], v3_codes: Collection[str]) -> None:
        """The label values allowed besides 'unknown'/'other': configured appids, mapped v3 codes."""
        self._tenants = frozenset(tenants)
        self._v3_codes = frozenset(v3_codes) | TRANSPORT_CODES

    @contextmanager
    def serving(self, op: str | None) -> Iterator[None]:
        """Around one request: in-flight gauge and the op for score observations."""
        token = self.begin(op)
        try:
            yield
        finally:
            self.end(token)

    def begin(self, op: str | None) -> Token[str]:
        """A request starts (`serving` without a context manager); `end` it with what this returns."""
        token = _current_op.set(op if op is not None and op in OPS else UNKNOWN)
        count(self.in_flight)
        return token

    def end(self, token: Token[str]) -> None:
        count(self.in_flight, -1.0)  # Gauge.dec
        _current_op.reset(token)

    def observe_request(
        self, *, appid: str, op: str | None, code: int | None, seconds: float, cut: str | None = None
    ) -> None:
        """One finished request; ``cut`` ("client_hangup", "body_timeout") when it ended without a v1 code."""
        tenant = appid if appid in self._tenants else UNKNOWN
        label = op if op is not None and op in OPS else UNKNOWN
        if cut is not None:
            self.observe_connection_event(cut)
        code_text = cut if cut in CONNECTION_EVENTS else code_label(code)
        key = (tenant, label, code_text)
        children = self._request_children.get(key)
        if children is None:  # bounded: every part is a label value from a fixed set
            signature = self._child(self.signature_failures, code_text) if code in SIGNATURE_CODES else None
            children = self._request_children[key] = (
                self._child(self.requests, tenant, label, code_text),
                self._child(self.request_seconds, label),
                signature,
            )
        requests, latency, signature = children
        count(requests)
        observe(latency, seconds)
        if signature is not None:
            count(signature)

    def observe_connection_event(self, reason: str) -> None:
        self._child(self.connection_events, reason if reason in CONNECTION_EVENTS else OTHER).inc()

    def observe_v3(self, record: V3CallRecord) -> None:
        latency = self._v3_children.get(record.action)
        if latency is None:
            if len(self._v3_children) >= 1024:  # actions are the proxy's own: never reached
                self._v3_children.clear()
            action = record.action if _ACTION.fullmatch(record.action) else UNKNOWN
            latency = self._v3_children[record.action] = self._child(self.v3_seconds, action)
        observe(latency, record.seconds)
        if record.code:
            action = record.action if _ACTION.fullmatch(record.action) else UNKNOWN
            code = record.code if record.code in self._v3_codes else OTHER
            self._child(self.v3_errors, action, code).inc()

    def observe_score(self, raw: float, calibrated: float) -> None:
        op = _current_op.get()
        children = self._score_children.get(op)
        if children is None:  # op is a label already (begin)
            children = (self._child(self.score_raw, op), self._child(self.score_calibrated, op))
            self._score_children[op] = children
        observe(children[0], raw)
        observe(children[1], calibrated)

    def render(self) -> bytes:
        """This process's metrics; under `serve --workers N` every worker's, summed (proxy.multiprocess)."""
        if multiprocess_dir() is not None:
            return generate_latest(multiprocess_registry())
        return generate_latest(self.registry)


def observed(calibration: Calibration, observe: Callable[[float, float], None]) -> Calibration:
    """`calibration` that also reports every (raw v3, calibrated v1) score it converts."""
    return ObservedCalibration(calibration.points, calibration.match_threshold, observe)


class ObservedCalibration(Calibration):
    """A Calibration reporting each conversion; `is_match` does not report twice."""

    def __init__(
        self, points: tuple[tuple[float, float], ...], match_threshold: float, observe: Callable[[float, float], None]
    ) -> None:
        super().__init__(points, match_threshold)
        object.__setattr__(self, "_observe", observe)

    def to_v1(self, v3_score: float) -> float:
        result = Calibration.to_v1(self, v3_score)
        self._observe(v3_score, result)
        return result

    def is_match(self, v3_score: float) -> bool:
        return Calibration.to_v1(self, v3_score) >= self.match_threshold

    _observe: Callable[[float, float], None]
