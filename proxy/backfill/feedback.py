"""What the operator sees: a live rich progress bar on a terminal, plain periodic lines otherwise; the summary."""

from __future__ import annotations

from typing import IO, Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from proxy.backfill.tally import Tally, clock_text


class Feedback(Protocol):
    def refresh(self, final: bool = False) -> None:
        """Show the tally now (called about twice a second; `final` once at the end)."""
        ...

    def close(self) -> None: ...


class BarFeedback:
    """rich's live progress bar: items, persons, faces, rate, ETA, errors."""

    def __init__(self, tally: Tally, console: Console) -> None:
        self._tally = tally
        self._progress = Progress(
            TextColumn("[bold]backfill"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} items"),
            TextColumn("persons {task.fields[persons]}"),
            TextColumn("faces {task.fields[faces]}"),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("[red]errors {task.fields[errors]}"),
            console=console,
            auto_refresh=False,
        )
        self._task: TaskID = self._progress.add_task("backfill", total=tally.items, **self._fields(0.0))
        self._progress.start()

    def _fields(self, rate: float) -> dict[str, Any]:
        t = self._tally
        return {
            "persons": f"{t.persons_done}/{t.persons}",
            "faces": t.faces,
            "rate": rate,
            "eta": clock_text(t.eta(rate)),
            "errors": t.errors,
        }

    def refresh(self, final: bool = False) -> None:
        rate = self._tally.rate()
        self._progress.update(self._task, completed=self._tally.processed, **self._fields(rate))
        self._progress.refresh()

    def close(self) -> None:
        self._progress.stop()


class LineFeedback:
    """One plain line every `every_s` seconds (logs, CI, pipes)."""

    def __init__(self, tally: Tally, out: IO[str], every_s: float) -> None:
        self._tally = tally
        self._out = out
        self._every_s = every_s
        self._last = tally.elapsed()

    def refresh(self, final: bool = False) -> None:
        t = self._tally
        elapsed = t.elapsed()
        if not final and elapsed - self._last < self._every_s:
            return
        self._last = elapsed
        rate = t.rate()
        share = 100.0 * t.processed / t.items if t.items else 100.0
        print(
            f"backfill {clock_text(elapsed)}  items {t.processed}/{t.items} ({share:.1f}%)  "
            f"persons {t.persons_done}/{t.persons}  faces {t.faces}  {rate:.1f}/s  "
            f"ETA {clock_text(t.eta(rate))}  errors {t.errors}",
            file=self._out,
            flush=True,
        )

    def close(self) -> None:
        pass


def summary_table(tally: Tally, *, interrupted: bool) -> Table:
    elapsed = tally.elapsed()
    table = Table(title="backfill " + ("interrupted" if interrupted else "finished"), title_justify="left")
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    rows = (
        ("items in the manifest run", tally.items),
        ("persons created (newperson)", tally.enrolled),
        ("faces added (addface)", tally.added),
        ("done by an earlier run", tally.skipped),
        ("failed", tally.failed),
        ("blocked (first row failed)", tally.blocked),
        ("not reached", tally.pending),
        ("persons finished", f"{tally.persons_done}/{tally.persons}"),
        ("v3 RequestLimitExceeded absorbed", tally.rate_limited),
        ("rate cuts (AIMD)", tally.rate_cuts),
        ("v3 transient errors retried", tally.retried),
        ("elapsed", clock_text(elapsed)),
        ("items attempted per second", f"{tally.attempted / elapsed:.1f}" if elapsed > 0 else "-"),
    )
    for name, value in rows:
        table.add_row(name, str(value))
    return table
