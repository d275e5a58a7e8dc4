"""`v1proxy backfill`: re-enrol a legacy photo archive into v3 through the live translation; resumable, quota-aware."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shlex
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from proxy import eventloop, logs
from proxy.app import build_runtime
from proxy.backfill.checkpoints import Checkpoints, JournalCheckpoints
from proxy.backfill.enrol import Enroller, Outcome
from proxy.backfill.feedback import BarFeedback, Feedback, LineFeedback, summary_table
from proxy.backfill.index import ManifestIndex
from proxy.backfill.live import LiveOps
from proxy.backfill.manifest import ManifestError, ManifestRow, RowProblem, read_manifest
from proxy.backfill.quota import AimdQuota, QuotaV3Client
from proxy.backfill.report import Report, ReportError, failed_keys
from proxy.backfill.run import run_persons
from proxy.backfill.tally import Tally
from proxy.backfill.validate import Rules, check_row
from proxy.backfill.verify import verify_sample
from proxy.config import Compiled, load_compiled
from proxy.limits.backends import Limits, open_limits
from proxy.limits.quota import Priority, QuotaPlan
from proxy.metrics import Metrics
from proxy.settings import SettingsError
from proxy.store import open_store
from proxy.store.base import FaceStore
from proxy.v3.client import make_session

HELP = "re-enrol a legacy face archive (a CSV or JSON Lines manifest) into v3, resumably, within a quota"

DEFAULT_QPS = 25.0  # half of v3's 50/s per interface group: the other half stays for live traffic
DEFAULT_CONCURRENCY = 8
EXIT_FAILED = 1  # some item failed (see the report)
EXIT_INVALID = 2  # the manifest (or the command line, or the config) is not usable
BACKGROUND_PATIENCE_S = 300.0  # a backfill call waits this long for a slot serving traffic leaves free
UNPACED = QuotaPlan(default_qps=0.0)  # the in-process fleet quota, turned off (see _backfill)
SHOWN_PROBLEMS = 200  # problems printed to the terminal; all of them go to the report


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the proxy's YAML configuration (tenants, upstream, store)")
    parser.add_argument("--manifest", required=True, type=Path, help="FILE.csv or FILE.jsonl: one face per row")
    parser.add_argument("--dry-run", action="store_true", help="validate the whole manifest, then stop")
    parser.add_argument(
        "--qps", type=_positive_float, default=DEFAULT_QPS,
        help=f"v3 calls per second per interface group (default {DEFAULT_QPS:g}: half of v3's 50, for live traffic)",
    )  # fmt: skip
    parser.add_argument(
        "--concurrency", type=_positive_int, default=DEFAULT_CONCURRENCY,
        help=f"persons enrolled at once (default {DEFAULT_CONCURRENCY})",
    )  # fmt: skip
    parser.add_argument("--report", type=Path, help="JSON Lines report (default: MANIFEST.report.jsonl)")
    parser.add_argument("--only-tenant", metavar="APPID", help="only this tenant's rows (others are not read further)")
    parser.add_argument("--retry-failed", type=Path, metavar="REPORT", help="re-run only the items this report failed")
    parser.add_argument(
        "--verify-sample", type=_positive_int, metavar="N", help="then verify N enrolled persons with an archive photo"
    )
    parser.add_argument(
        "--progress-every", type=_positive_float, default=10.0, metavar="S",
        help="seconds between progress lines when not on a terminal (default 10)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        compiled = load_compiled(args.config)
    except SettingsError as exc:
        print(f"v1proxy backfill: {args.config}: unusable configuration:\n{exc}", file=sys.stderr)
        return EXIT_INVALID
    logs.configure("json", "warning")
    return eventloop.run(_backfill(args, compiled), loop=compiled.settings.listen.event_loop)


def _report_path(args: argparse.Namespace) -> Path:
    manifest: Path = args.manifest
    given: Path | None = args.report
    return given if given is not None else manifest.with_name(manifest.name + ".report.jsonl")


async def _backfill(args: argparse.Namespace, compiled: Compiled) -> int:
    settings = compiled.settings
    out = Console(highlight=False, soft_wrap=True)
    index = ManifestIndex()
    report: Report | None = None
    session = make_session(limit=max(args.concurrency * 2, 4))
    store: FaceStore | None = None
    limits: Limits | None = None
    try:
        store = await open_store("sqlite://:memory:" if args.dry_run else settings.store.url)
        # With Redis, the fleet's upstream quota is shared with live traffic: the backfill draws from it at
        # background priority (only slots serving traffic leaves free), waiting as long as it takes. Without
        # Redis this process cannot see live traffic's bookings, so its own cap (--qps, at most the plan's
        # budget, AIMD) paces it alone: a second pacer at the same rate loses the slots no caller polled
        # for in time (measured: 10-15 % of the rate, calls waiting ~0.5 s each for a polled slot).
        plan = compiled.quota if compiled.redis is not None else UNPACED
        limits = open_limits(compiled.redis, plan, priority=Priority.BACKGROUND, patience_s=BACKGROUND_PATIENCE_S)
        paced = dataclasses.replace(compiled, quota=plan)  # build_runtime (re)configures the quota with this
        runtime = build_runtime(paced, session=session, store=store, metrics=Metrics(), limits=limits)
        services = runtime.services
        rules = Rules(
            tenants=frozenset(t.appid for t in settings.tenants),
            scope_of=services.scope,
            base_dir=args.manifest.resolve().parent,
        )
        if args.retry_failed is not None:  # read before this run's report replaces it (it may be the same file)
            index.want(failed_keys(args.retry_failed))
        report = Report(_report_path(args))
        problems = _index_manifest(args, rules, index, report)
        counts = index.counts()
        print(f"manifest {args.manifest}: {counts.items} items, {counts.persons} persons valid; {problems} problems")
        if problems:
            print(f"fix the manifest and run again; every problem is in {report.path}", file=sys.stderr)
            return EXIT_INVALID
        if args.dry_run:
            print("dry run: the manifest is valid; nothing was sent to v3")
            return 0
        if args.retry_failed is not None:
            index.restrict()
            counts = index.counts()
            print(f"--retry-failed {args.retry_failed}: {counts.items} items of {counts.persons} persons")
        budgets = compiled.quota
        quota = AimdQuota(args.qps, budget=lambda group: budgets.rate(group).qps)
        v3 = QuotaV3Client(services.v3, quota)
        ops = LiveOps(dataclasses.replace(services, v3=v3))
        checkpoints: Checkpoints = JournalCheckpoints(store)
        stop = _StopOnSignal()
        enroller = Enroller(
            ops=ops, checkpoints=checkpoints, image_path=rules.image_path, stopping=stop.requested,
            retry_failed=args.retry_failed is not None,
        )  # fmt: skip
        tally = Tally(items=counts.items, persons=counts.persons)
        feedback: Feedback = (
            BarFeedback(tally, out) if out.is_terminal else LineFeedback(tally, sys.stdout, args.progress_every)
        )
        written = report

        def on_outcome(outcome: Outcome) -> None:
            written.outcome(outcome)

        stop.install()
        try:
            await run_persons(
                index, enroller, concurrency=args.concurrency, tally=tally, feedback=feedback,
                on_outcome=on_outcome, rate_limited=lambda: v3.rate_limited,
            )  # fmt: skip
        finally:
            stop.uninstall()
            feedback.close()
            tally.rate_cuts = quota.cuts
        out.print(summary_table(tally, interrupted=stop.signal is not None))
        print(f"report: {report.path}")
        if stop.signal is not None:
            print(f"interrupted by {stop.signal.name} at a clean point; resume with:\n  {_resume_command()}")
            return 128 + stop.signal.value
        if args.verify_sample:
            results = await verify_sample(index, checkpoints, enroller, args.verify_sample)
            passed = sum(r.ismatch for r in results)
            share = 100.0 * passed / len(results) if results else 0.0
            print(f"verify sample: {passed}/{len(results)} persons verified with an archive photo ({share:.1f}%)")
            for r in results:
                if not r.ismatch:
                    why = f" [{r.code}] {r.message}" if r.code else f" confidence {r.confidence:g}"
                    print(f"  not verified: person {r.person_id!r} with line {r.line}{why}")
        if tally.errors:
            print(f"{tally.errors} items failed; re-run them with --retry-failed {report.path}")
            return EXIT_FAILED
        return 0
    except (ManifestError, ReportError, ValueError) as exc:
        print(f"v1proxy backfill: {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        if report is not None:
            report.close()
        index.close()
        await session.close()
        if store is not None:
            await store.close()
        if limits is not None:
            await limits.close()


def _index_manifest(args: argparse.Namespace, rules: Rules, index: ManifestIndex, report: Report) -> int:
    """Validate every row into the index; print and report each problem; how many there were."""
    problems = 0

    def show(problem: RowProblem) -> None:
        nonlocal problems
        problems += 1
        report.problem(problem)
        if problems <= SHOWN_PROBLEMS:
            print(f"{args.manifest}: {problem}", file=sys.stderr)
        elif problems == SHOWN_PROBLEMS + 1:
            print(f"{args.manifest}: … more problems in {report.path}", file=sys.stderr)

    def valid_rows() -> Iterator[ManifestRow]:
        for entry in read_manifest(args.manifest):
            if isinstance(entry, RowProblem):
                show(entry)
                continue
            if args.only_tenant is not None and entry.appid != args.only_tenant:
                continue
            problem = check_row(entry, rules)
            if problem is not None:
                show(problem)
                continue
            yield entry

    for problem in index.load(valid_rows()):
        show(problem)
    for problem in index.finish():
        show(problem)
    return problems


class _StopOnSignal:
    """SIGINT/SIGTERM: finish the items in flight, start no new one; a second signal stops at once."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None
        self._task: asyncio.Task[object] | None = None

    def requested(self) -> bool:
        return self.signal is not None

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.signal is not None and self._task is not None:
            self._task.cancel()  # the second time: the items in flight stay pending, reconciled on resume
            return
        self.signal = sig
        print(f"\n{sig.name}: finishing the items in flight, then stopping (again to stop at once)", file=sys.stderr)


def _resume_command() -> str:
    return shlex.join(["v1proxy", *sys.argv[1:]])
