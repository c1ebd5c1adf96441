"""The text the ``quarantine`` commands print: ``show``'s tables, a replay's summary, and its progress bar."""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Any

import click

from streamproc.lineage.loads import LoadRecord
from streamproc.ops.quarantine.report import ReplaySummary, TableReport
from streamproc.ops.quarantine.rows import QuarantineSnapshot
from streamproc.ops.quarantine.show import QuarantineView

__all__ = ["ProgressBar", "print_summary", "print_views"]

_TOP = 10  # lines per breakdown


def print_views(views: list[QuarantineView]) -> None:
    """``show``'s report, one block per quarantine table."""
    for view in views:
        if view.version is None:
            click.echo(f"{view.quarantine}: no quarantine table yet ({view.location})")
            continue
        click.echo(f"{view.quarantine} (version {view.version}, {view.location})")
        if not view.rows and view.table_rows:
            _none_match(view)
            continue
        states = ", ".join(f"{state.replace('_', ' ')} {n:,}" for state, n in view.states.most_common()) or "none"
        click.echo(f"  rows: {view.rows:,} ({states})")
        if not view.by_type:
            click.echo(f"  no {view.status.replace('_', ' ')} rows")
            continue
        click.echo(f"  {view.status.replace('_', ' ')} rows, by violation type:")
        _counts(view.by_type)
        click.echo("  by field:")
        _counts(view.by_field)
        # Not the version that quarantined a row once a replay re-checked it: say which version this is.
        click.echo(f"  by contract version of the latest verdict (a replay's, once re-checked), per {view.bucket} "
                   "quarantined:")
        by_bucket: dict[str, list[str]] = {}
        for point in view.over_time:
            by_bucket.setdefault(point["at"], []).append(f"v{point['contract_version']}: {point['rows']:,}")
        for at, parts in by_bucket.items():
            click.echo(f"    {at}  {', '.join(parts)}")
        if view.samples:
            click.echo(f"  newest {len(view.samples)}:")
        for sample in view.samples:
            click.echo(
                f"    {sample['source']} partition {sample['partition']} offset {sample['offset']}, quarantined "
                f"{sample['ingested_at']}, v{sample['contract_version']} {sample['state'].replace('_', ' ')}"
            )
            for violation in sample["violations"]:
                click.echo(f"      {violation['loc'] or '<event>'}: {violation['type']}: {violation['message']}")
            payload = sample["payload"]
            click.echo(f"      {payload if payload is not None else '(payload withheld: PII, not a JSON object)'}")


def _none_match(view: QuarantineView) -> None:
    """A table with rows, none of which the filters select: "rows: 0 (none)" would read as an empty quarantine."""
    click.echo(f"  rows: 0 match the filters (the table holds {view.table_rows:,})")
    if view.types_present:
        types = ", ".join(f"{kind} {n:,}" for kind, n in view.types_present.most_common())
        click.echo(f"  violation types present (--type takes these): {types}")
    if view.fields_present:
        fields = ", ".join(f"{loc} {n:,}" for loc, n in view.fields_present.most_common(_TOP))
        more = f", ... {len(view.fields_present) - _TOP} more" if len(view.fields_present) > _TOP else ""
        click.echo(f"  violation fields present (--field takes these or a part of one, named as in the events): "
                   f"{fields}{more}")


def _counts(counts: Counter[str]) -> None:
    width = max(len(k) for k in counts)
    for key, n in counts.most_common(_TOP):
        click.echo(f"    {key.ljust(width)}  {n:,}")
    if len(counts) > _TOP:
        click.echo(f"    ... {len(counts) - _TOP} more")


def print_summary(summary: ReplaySummary) -> None:
    """A replay's summary: per quarantine table and table, then the totals."""
    if summary.run_id is None:  # no quarantine table with a row to take: the replay did not start
        reasons = [f"{name}: {why}" for name, why in summary.idle.items()]
        if summary.missing:
            reasons.insert(0, f"no quarantine table yet for {', '.join(summary.missing)} (no run of this pipeline "
                           "has written one)")
        click.echo(f"nothing to replay: {'; '.join(reasons)}; nothing written")
        return
    would = "would " if summary.dry_run else ""
    click.echo(f"quarantine replay {summary.run_id}{' (dry run: nothing written)' if summary.dry_run else ''}")
    for report in summary.reports:
        _report(report, would)
    for table in summary.missing:
        click.echo(f"  {table}: no quarantine table yet")
    for name, why in summary.idle.items():
        click.echo(f"  {name}: nothing to replay ({why})")
    landed = "would land" if summary.dry_run else "landed"
    click.echo(
        f"{landed} {summary.landed:,} row(s); {summary.still_failing:,} {would}still fail"
        f" ({summary.seconds:.1f}s)"
    )


def _report(report: TableReport, would: str) -> None:
    click.echo(f"  {report.quarantine} (version {report.quarantine_version}) → {report.table}, {report.contract}:")
    for load in report.completed:
        click.echo(f"    completed the interrupted load {_load(load)}")
    click.echo(
        f"    re-checked {report.taken:,}: {would}land {report.landed:,}, {would}still fail {report.still_failing:,}"
        + (f" ({_top(report.failing_by_type)})" if report.failing_by_type else "")
    )
    if report.skipped:
        reasons = {"replayed": "replayed before", "unchanged": "refused by this contract version already",
                   "value_discarded": "value_discarded (landed by the pipeline)"}
        click.echo("    skipped: " + ", ".join(f"{n:,} {reasons.get(k, k)}" for k, n in report.skipped.most_common()))
    if report.loads:
        click.echo(f"    {len(report.loads)} load(s): " + ", ".join(_load(load) for load in report.loads[:5])
                   + (", ..." if len(report.loads) > 5 else ""))
    for sample in report.samples:
        where = f"{sample['source']} partition {sample['partition']} offset {sample['offset']}"
        if sample["would"] == "replayed":
            click.echo(f"    would land: {where}")
        else:
            reasons = "; ".join(f"{v['loc'] or '<event>'}: {v['type']}: {v['message']}" for v in sample["violations"])
            click.echo(f"    would still fail: {where}: {reasons}")


def _load(load: LoadRecord) -> str:
    rows = f"{load.rows_landed:,} row{'' if load.rows_landed == 1 else 's'}"
    return f"{load.load_id[:12]} ({rows}, {load.table_name} version {load.delta_version})"


def _top(counts: Counter[str]) -> str:
    more = f", {len(counts) - 5} more type(s) in --json" if len(counts) > 5 else ""
    return ", ".join(f"{k}: {n:,}" for k, n in counts.most_common(5)) + more


class ProgressBar:
    """A replay listener drawing one progress bar per quarantine table scanned (rich, on stderr), when enabled."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]replay[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self._task: Any = None

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def on_start(self, run_id: str, quarantines: list[tuple[QuarantineSnapshot, list[str]]]) -> None:
        pass

    def on_scan(self, quarantine: QuarantineSnapshot) -> None:
        self._task = self._progress.add_task(quarantine.name, total=quarantine.rows)

    def on_scanned(self, rows: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, rows)

    def on_load(self, load: LoadRecord, quarantine: QuarantineSnapshot) -> None:
        pass  # each load is logged (INFO) by the replay

    def on_stop(self, summary: ReplaySummary | None, error: BaseException | None) -> None:
        pass
