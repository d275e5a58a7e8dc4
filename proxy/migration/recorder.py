"""Judges each shadowed answer pair and records the verdict: Prometheus counters now, the ledger in batches.

``record`` never blocks the event loop: it counts, then queues the observation; a background task
writes queued observations to the ledger (on its own thread) every ``flush_s`` or ``batch`` items,
and ``close`` writes what is left. The queue is bounded (``MAX_QUEUED``): while the ledger cannot keep
up, further observations are counted in Prometheus but not kept (``v1proxy_shadow_skipped_total``
with call="ledger", reason="queue_full"), so a slow database never costs the proxy memory.
Answers come in as the app saw them: a v1 reply's bytes, or the typed result / v1 error the proxy
translated from v3 (plus the raw v3 scores behind it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Sequence

import structlog
from prometheus_client import CollectorRegistry, Counter

from proxy.migration.compare import Answer, Comparison, Judge, compare
from proxy.migration.ledger import Against, Ledger, Observation
from proxy.v1.errors import V1Error
from proxy.v1.render import error_body, result_body
from proxy.v1.results import V1Result

log = structlog.get_logger("proxy.migration.shadow")
MAX_QUEUED = 10_000  # observations waiting for the ledger (a few MB at most)


def request_digest(path: str, body: bytes) -> str:
    """What identifies a request in the ledger: SHA-256 of its path and body (no image can be recovered)."""
    h = hashlib.sha256(path.encode("utf-8", "replace"))
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()[:32]


def answer_of_reply(body: bytes) -> Answer:
    """A v1 backend's reply bytes as an answer; not v1 JSON is a malformed answer (code -99999)."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    return Answer.from_body(parsed if isinstance(parsed, dict) else {})


def answer_of_result(result: V1Result | V1Error, raw_scores: Sequence[float] = ()) -> Answer:
    """The proxy's own (v3-translated) answer, as the app would have received it."""
    body = error_body(result) if isinstance(result, V1Error) else result_body(result)
    return Answer.from_body(body, raw_scores)


class ComparisonMetrics:
    """Agreement by tenant/op in the proxy's registry (tenant is a configured appid, op a v1 op)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.comparisons = Counter(
            "v1proxy_shadow_comparisons",
            "shadow comparisons of v1's answer with v3's (against=v3) or with v1 again (against=v1), by result",
            ("tenant", "op", "against", "result"),
            registry=registry,
        )
        self.differences = Counter(
            "v1proxy_shadow_differences",
            "what differed in disagreeing shadow comparisons, by kind",
            ("tenant", "op", "against", "kind"),
            registry=registry,
        )
        self.skipped = Counter(
            "v1proxy_shadow_skipped",
            "shadow calls not made or not compared: sampled out (sample_percent, noise_percent), over max_calls_per_s, "
            "not in v3 yet, or throttled by the v3 quota; call=ledger: comparisons not kept because the ledger's "
            "queue was full",
            ("tenant", "call", "reason"),
            registry=registry,
        )


class ComparisonRecorder:
    """One per proxy process: compare, count, queue; a background task persists."""

    def __init__(
        self,
        ledger: Ledger,
        metrics: ComparisonMetrics,
        *,
        flush_s: float = 0.5,
        batch: int = 200,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self._flush_s = flush_s
        self._batch = batch
        self._max_queued = max_queued
        self._queue: list[Observation] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flusher())

    def record(
        self,
        *,
        tenant: str,
        op: str,
        against: Against,
        control: Answer,
        candidate: Answer,
        judge: Judge,
        request_hash: str,
        control_ms: float,
        candidate_ms: float,
    ) -> Comparison:
        comparison = compare(op, control, candidate, judge)
        self.record_comparison(
            tenant=tenant,
            against=against,
            comparison=comparison,
            request_hash=request_hash,
            control_ms=control_ms,
            candidate_ms=candidate_ms,
        )
        return comparison

    def record_comparison(
        self,
        *,
        tenant: str,
        against: Against,
        comparison: Comparison,
        request_hash: str,
        control_ms: float,
        candidate_ms: float,
    ) -> None:
        """Count a verdict already reached (a settled dual write) and queue it for the ledger."""
        op = comparison.op
        result = "agreed" if comparison.agreed else "disagreed"
        self.metrics.comparisons.labels(tenant, op, against.value, result).inc()
        for kind in comparison.differences:
            self.metrics.differences.labels(tenant, op, against.value, kind.value).inc()
        if not comparison.agreed:
            log.info(
                "shadow_disagreement",
                tenant=tenant,
                op=op,
                against=against.value,
                request_hash=request_hash,
                differences=[d.value for d in comparison.differences],
                detail=comparison.detail,
            )
        if len(self._queue) >= self._max_queued:  # the ledger is behind: counted above, not kept
            self.metrics.skipped.labels(tenant, "ledger", "queue_full").inc()
            return
        self._queue.append(
            Observation(tenant, against, comparison, request_hash, control_ms, candidate_ms, at=time.time())
        )
        if len(self._queue) >= self._batch:
            self._wake.set()

    async def flush(self) -> None:
        """Write everything queued so far to the ledger."""
        batch, self._queue = self._queue, []
        if batch:
            try:
                await self.ledger.record_many(batch)
            except Exception:
                log.exception("shadow_ledger_write_failed", observations=len(batch))

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_s)
            self._wake.clear()
            await self.flush()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        await self.ledger.close()
