"""What a run did, for the end-of-run summary and for tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamproc.lineage.loads import LoadRecord

__all__ = ["RunSummary"]


@dataclass(slots=True)
class RunSummary:
    """Totals of one ``streamproc run``.

    Attributes:
        rows_landed / rows_quarantined: rows appended to the table / the quarantine table by this run.
        events: events covered by this run's loads; bytes: their payload bytes.
        loads: loads recorded in ``_loads`` by this run.
        seconds: wall-clock seconds from start to stop.
        stopped_by: ``caught_up``, ``signal``, ``error``, ``freeze`` or ``interrupt`` (a second Ctrl-C).
        tables: role (``table``, ``quarantine``, ``loads``) → location.
    """

    pipeline: str
    rows_landed: int = 0
    rows_quarantined: int = 0
    events: int = 0
    bytes: int = 0
    loads: int = 0
    seconds: float = 0.0
    stopped_by: str = "signal"
    tables: dict[str, str] = field(default_factory=dict)

    def add(self, load: LoadRecord, *, events: int) -> None:
        self.rows_landed += load.rows_landed
        self.rows_quarantined += load.rows_quarantined
        self.events += events
        self.bytes += load.bytes
        self.loads += 1

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def render(self) -> str:
        """A human-readable block of lines."""
        lines = [
            f"pipeline {self.pipeline}: stopped by {self.stopped_by}",
            f"  rows landed       {self.rows_landed:>12,}",
            f"  rows quarantined  {self.rows_quarantined:>12,}",
            f"  loads             {self.loads:>12,}",
            f"  events            {self.events:>12,}  ({self.bytes / 1e6:,.1f} MB)",
            f"  seconds           {self.seconds:>12,.1f}",
            f"  events/s          {self.events_per_second:>12,.0f}",
        ]
        lines += [f"  {role:<17} {uri}" for role, uri in self.tables.items()]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "pipeline": self.pipeline,
            "rows_landed": self.rows_landed,
            "rows_quarantined": self.rows_quarantined,
            "events": self.events,
            "bytes": self.bytes,
            "loads": self.loads,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "stopped_by": self.stopped_by,
            "tables": self.tables,
        }
