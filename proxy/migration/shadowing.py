"""The shadow's comparison side: which reads get a v3 twin (budget), and what happens to each answered pair.

The migration engine asks ``admit`` before it starts a v3 twin for a read the app got from v1, and
hands every finished pair to ``observe`` (its comparator hook); the outbox hands every settled
dual write to ``observe_write`` (v1's code against v3's, whichever side served). ``observe`` judges the pair
against v3 and, for a ``noise_percent`` sample, replays the app's request to v1 once more and
judges v1 against itself, so a difference v1 also has with itself is not blamed on v3. A twin v3
could not answer for want of quota (15: the proxy's upstream quota, or v3's RequestLimitExceeded)
is skipped, not counted as a disagreement: it says nothing of what v3 would answer. All of it
runs after the app has its answer; nothing here can change or delay that answer.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog

from proxy.domain.codes import V1Error
from proxy.migration.budget import ShadowBudget
from proxy.migration.compare import Judge, dual_write
from proxy.migration.engine import ShadowPair
from proxy.migration.ledger import Against
from proxy.migration.outbox import SettledWrite
from proxy.migration.recorder import ComparisonRecorder, answer_of_reply, answer_of_result, request_digest
from proxy.migration.routes import Side
from proxy.settings import Settings
from proxy.v1.routes import Inbound, Verbatim

log = structlog.get_logger("proxy.migration.shadow")
THROTTLED = 15  # v1's "too frequent": the upstream quota (or v3's RequestLimitExceeded) refused the twin


Replay = Callable[[Inbound], Awaitable[Verbatim]]


def budget_of(settings: Settings) -> ShadowBudget:
    shadow = settings.shadow
    return ShadowBudget(
        sample_percent={appid: t.sample_percent for appid, t in shadow.tenants.items()},
        default_percent=shadow.sample_percent,
        max_calls_per_s=shadow.max_calls_per_s,
        noise_percent=shadow.noise_percent,
    )


class ShadowComparer:
    """Budget and comparison for every shadowed read; rebuilds its budget when the settings change."""

    def __init__(self, recorder: ComparisonRecorder, settings: Callable[[], Settings], replay: Replay) -> None:
        self.recorder = recorder
        self._settings = settings
        self._replay = replay
        self._budget_for: Settings | None = None
        self._budget: ShadowBudget | None = None

    def budget(self) -> ShadowBudget:
        settings = self._settings()
        if self._budget is None or self._budget_for is not settings:  # a reload: new shares, cap and sizes
            self._budget, self._budget_for = budget_of(settings), settings
            self.recorder.ledger.sample_size = settings.shadow.disagreements_kept
            self.recorder.ledger.pairs_kept = settings.shadow.pairs_kept
        return self._budget

    def admit(self, tenant: str, op: str) -> bool:
        """Whether a v3 twin may run for this read (the tenant's sample, then the calls-per-second cap)."""
        refused = self.budget().admit(tenant)
        if refused is not None:
            self.recorder.metrics.skipped.labels(tenant, "v3", refused.value).inc()
            return False
        return True

    async def observe(self, pair: ShadowPair) -> None:
        """Judge v1 against v3, then (sampled, budgeted) against a replay of itself."""
        settings = self._settings()
        judge = Judge(settings.scores.of(pair.tenant)[1])  # the tenant's threshold: the one its answers used
        control = answer_of_reply(pair.v1.body)
        outcome = pair.v3_result if pair.v3_result is not None else pair.v3_error
        if outcome is None:
            return
        if not pair.known_in_v3 or pair.v3_behind:  # its data has not (all) reached v3 yet: says nothing of v3
            self.recorder.metrics.skipped.labels(pair.tenant, "v3", "not_in_v3").inc()
            return
        if isinstance(outcome, V1Error) and outcome.code == THROTTLED:  # no answer from v3: nothing to compare
            self.recorder.metrics.skipped.labels(pair.tenant, "v3", "throttled").inc()
            return
        digest = request_digest(pair.inbound.path, pair.inbound.body)
        self.recorder.record(
            tenant=pair.tenant,
            op=pair.op,
            against=Against.V3,
            control=control,
            candidate=answer_of_result(outcome, pair.v3_raw_scores),
            judge=judge,
            request_hash=digest,
            control_ms=pair.v1_seconds * 1000,
            candidate_ms=pair.v3_seconds * 1000,
        )
        refused = self.budget().admit_replay()
        if refused is not None:
            self.recorder.metrics.skipped.labels(pair.tenant, "v1-replay", refused.value).inc()
            return
        started = time.perf_counter()
        try:
            again = await self._replay(pair.inbound)
        except Exception as exc:  # an unreachable legacy backend: no noise sample this time
            log.warning("shadow_replay_failed", tenant=pair.tenant, op=pair.op, error=type(exc).__name__)
            return
        self.recorder.record(
            tenant=pair.tenant,
            op=pair.op,
            against=Against.V1,
            control=control,
            candidate=answer_of_reply(again.body),
            judge=judge,
            request_hash=digest,
            control_ms=pair.v1_seconds * 1000,
            candidate_ms=(time.perf_counter() - started) * 1000,
        )

    def observe_write(self, settled: SettledWrite) -> None:
        """Judge a dual write once its second side settled: v1's code against v3's, always in that order."""
        other = settled.served.other
        other_code = settled.served_code if settled.applied else settled.target_code
        refusal = "" if settled.applied else f"{other.value} refused"
        if refusal:
            tries = "attempt" if settled.attempts == 1 else "attempts"
            words = f": {settled.message}" if settled.message else ""
            refusal += f" after {settled.attempts} {tries} (outbox entry {settled.entry_id}){words}"
        faces = settled.faces_added
        if settled.served is Side.V1:
            v1_code, v3_code, v1_ms, v3_ms = settled.served_code, other_code, settled.served_ms, settled.target_ms
        else:
            v1_code, v3_code, v1_ms, v3_ms = other_code, settled.served_code, settled.target_ms, settled.served_ms
            faces = None if faces is None else (faces[1], faces[0])
        self.recorder.record_comparison(
            tenant=settled.tenant,
            against=Against.V3,
            comparison=dual_write(settled.op, v1_code, v3_code, refusal, faces),
            request_hash=settled.request_hash,
            control_ms=v1_ms,
            candidate_ms=v3_ms,
        )
