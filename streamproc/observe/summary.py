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
        tables: role (``table``, ``quarantine``, ``loads``) → location (a routed pipeline's: its default route's);
            for a run of several pipelines (an HTTP source's targets), each one's name → its table's location.
        targets: for a run of several pipelines, each one's name → its own totals and tables (:meth:`add_target`);
            for a routed pipeline, each route's table name → its own totals and tables (:meth:`add_route`).
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
    targets: dict[str, RunSummary] = field(default_factory=dict)

    def add(self, load: LoadRecord, *, events: int, route_events: int = 0) -> None:
        """Count one table's load in the totals, with ``events``; in a routed pipeline, in its route's own totals
        too (kept by :meth:`add_route`), with ``route_events``: a load's events count once in the totals, with the
        default route's table, and each route counts the events routed to it."""
        route = self.targets.get(load.table_name)
        if route is not None:
            route.add(load, events=route_events)
        self.rows_landed += load.rows_landed
        self.rows_quarantined += load.rows_quarantined
        self.events += events
        self.bytes += load.bytes
        self.loads += 1

    def add_route(self, name: str, *, tables: dict[str, str]) -> None:
        """Keep a per-table line for the route of a routed pipeline whose table is ``name`` (its ``tables``: role →
        location), which :meth:`add` counts that table's loads in, as :meth:`add_target` keeps a pipeline's."""
        self.targets[name] = RunSummary(pipeline=name, tables=tables)

    def add_target(self, name: str, part: RunSummary) -> None:
        """Count ``part``, the summary of one of this run's pipelines (an HTTP source's target), in the totals, and
        keep it for the per-table lines (what it landed, quarantined and loaded, and where)."""
        self.rows_landed += part.rows_landed
        self.rows_quarantined += part.rows_quarantined
        self.events += part.events
        self.bytes += part.bytes
        self.loads += part.loads
        self.seconds = max(self.seconds, part.seconds)
        self.targets[name] = part

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
        return "\n".join([*lines, *self._where_lines("  ")])

    def _where_lines(self, indent: str) -> list[str]:
        """Where this run landed: its tables, or per target (route) its totals and, further in, its own."""
        if not self.targets:
            return [f"{indent}{role:<{19 - len(indent)}} {uri}" for role, uri in self.tables.items()]
        lines = []
        for name, part in self.targets.items():
            lines.append(
                f"{indent}{name}: {part.rows_landed:,} landed, {part.rows_quarantined:,} quarantined, {part.loads:,} "
                f"load(s), {part.events:,} events"
            )
            lines += part._where_lines(indent + "  ")
        return lines

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
            "targets": {name: part.as_dict() for name, part in self.targets.items()},
        }
