"""What a quarantine replay did (or, with ``--dry-run``, would do): per quarantine table and table, and in total."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from streamproc.lineage.loads import LoadRecord
from streamproc.ops.quarantine.rows import QuarantineSnapshot

__all__ = ["ReplayListener", "ReplaySummary", "TableReport"]

SAMPLES = 5
"""Events listed per table in a dry run's report, of those that would land and of those that would still fail."""


@dataclass(slots=True)
class TableReport:
    """One quarantine table's replay into one table.

    Attributes:
        quarantine, table: their logical names; quarantine_version: the Delta version of the quarantine read.
        contract: ``name vN`` of the contract version that judged.
        taken: quarantine rows re-checked; landed: of them, rows landed into the table; still_failing: refused again.
        skipped: rows not re-checked, by reason: ``replayed`` (by an earlier replay), ``unchanged`` (refused by
            this very contract version already), ``value_discarded`` (landed by the pipeline without some values).
        failing_by_type: the still-failing rows' violations by ``type`` (e.g. ``literal_error``).
        loads: the replay loads committed (their ``_loads`` rows); completed: loads an earlier, interrupted replay
            left, completed first.
        samples: (dry run) a few events that would land and would still fail: coordinates and violations.
    """

    quarantine: str
    table: str
    quarantine_version: int | None = None
    contract: str = ""
    taken: int = 0
    landed: int = 0
    still_failing: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    failing_by_type: Counter[str] = field(default_factory=Counter)
    loads: list[LoadRecord] = field(default_factory=list)
    completed: list[LoadRecord] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "quarantine": self.quarantine,
            "table": self.table,
            "quarantine_version": self.quarantine_version,
            "contract": self.contract,
            "taken": self.taken,
            "landed": self.landed,
            "still_failing": self.still_failing,
            "skipped": dict(self.skipped),
            "still_failing_by_type": dict(self.failing_by_type.most_common()),
            "loads": [
                {"load_id": l.load_id, "rows_landed": l.rows_landed, "delta_version": l.delta_version}
                for l in self.loads
            ],
            "completed_interrupted_loads": [
                {"load_id": l.load_id, "rows_landed": l.rows_landed, "delta_version": l.delta_version}
                for l in self.completed
            ],
            "samples": self.samples,
        }


@dataclass(slots=True)
class ReplaySummary:
    """Every table's report of one replay run.

    Attributes:
        run_id: the replay's run (its loads name it; its OpenLineage run); ``None`` when no selected table had a
            quarantine table with anything to replay, so no replay ran (``missing`` and ``idle`` say why).
        dry_run: nothing was written.
        reports: per quarantine table and table (a routed default quarantine may feed several tables).
        missing: route tables that have no quarantine table yet (nothing to replay).
        idle: quarantine tables with nothing to replay (no row matches the filters, or every one is landed), by
            name, with why; the replay wrote nothing for them.
        seconds: wall-clock duration.
    """

    run_id: str | None
    dry_run: bool
    reports: list[TableReport] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    idle: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def landed(self) -> int:
        return sum(r.landed for r in self.reports)

    @property
    def still_failing(self) -> int:
        return sum(r.still_failing for r in self.reports)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "landed": self.landed,
            "still_failing": self.still_failing,
            "seconds": round(self.seconds, 3),
            "tables": [r.as_dict() for r in self.reports],
            "no_quarantine": self.missing,
            "nothing_to_replay": self.idle,
        }


class ReplayListener(Protocol):
    """Hooks of a replay run (lineage, metrics, progress); called from the replay's thread, in this order:
    :meth:`on_start` once, :meth:`on_scan` / :meth:`on_scanned` / :meth:`on_load` as it goes, :meth:`on_stop` once."""

    def on_start(self, run_id: str, quarantines: list[tuple[QuarantineSnapshot, list[str]]]) -> None:
        """The quarantine snapshots the replay reads, each with the table locations it may land into."""

    def on_scan(self, quarantine: QuarantineSnapshot) -> None:
        """Scanning ``quarantine`` begins (``quarantine.rows`` rows)."""

    def on_scanned(self, rows: int) -> None:
        """``rows`` more quarantine rows were read."""

    def on_load(self, load: LoadRecord, quarantine: QuarantineSnapshot) -> None:
        """A replay load was committed (or an interrupted one completed)."""

    def on_stop(self, summary: ReplaySummary | None, error: BaseException | None) -> None:
        """The replay ended: with its summary, or with ``error``."""
