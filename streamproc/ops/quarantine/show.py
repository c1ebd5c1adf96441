"""``streamproc quarantine show``: what is in a pipeline's quarantine tables, by violation and over time, with samples.

Per route's quarantine table: its rows matching the filter by state (:mod:`streamproc.ops.quarantine.rows`), and for
the rows of the chosen states, their *current* violations (a re-checked row's are the latest replay's) counted by
``type`` and by field (``loc``), the rows per contract version of their latest verdict over time (the version that
quarantined a row, or once a replay re-checked it, the version that replay refused or accepted it with; by when it
was quarantined, ``_ingested_at``, in minute, hour or day buckets), and the newest few as samples: source
coordinates, violations and the payload as the contract's PII policy lets it be shown (:mod:`contracts.pii`: masked,
hashed, dropped fields).
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from contracts.errors import ContractDeclarationError
from contracts.pii import PiiPolicy
from streamproc.config import PipelineConfig
from streamproc.config.resolve import PipelineContracts, Route
from streamproc.errors import ConfigError
from streamproc.ops.quarantine.rows import (
    PAYLOAD_COLUMNS,
    QuarantineFilter,
    QuarantineSnapshot,
    State,
    key_of,
    read_states,
    state_of,
)

__all__ = ["STATUS_CHOICES", "QuarantineView", "show_quarantine"]

StatusChoice = Literal["unresolved", "replayed", "value_discarded", "all"]
STATUS_CHOICES: dict[str, frozenset[State]] = {
    "unresolved": frozenset({"open", "still_failing"}),
    "replayed": frozenset({"replayed"}),
    "value_discarded": frozenset({"value_discarded"}),
    "all": frozenset({"open", "still_failing", "replayed", "value_discarded"}),
}
"""``--status`` → the row states the breakdowns and samples cover (``unresolved``: not landed yet)."""

_TEXT = 400  # characters of a sample's payload shown


@dataclass(slots=True)
class QuarantineView:
    """One quarantine table, as ``show`` reports it.

    Attributes:
        table, quarantine, location: the route's table, its quarantine table's name and location.
        version: the quarantine's Delta version read (``None``: no quarantine table yet).
        table_rows: every row the quarantine table holds at that version, whatever the filter.
        rows: rows matching the filter, any state; states: those rows by state.
        types_present: with a ``types`` filter, the current violation types (violations counted) of the rows the
            other filters select, at the filter's fields: what ``types`` could have named (empty without one).
        fields_present: with a ``fields`` filter, the fields (``loc``) of the current violations of the rows the
            other filters select, of the filter's types: what ``fields`` could have named, as the events spell them
            (a contract's aliases, ``lineItems.0.unitPrice``), not the model's attribute names (empty without one).
        status: which states the rest covers (``unresolved``, ``replayed``, ``value_discarded``, ``all``).
        by_type, by_field: current violations by ``type`` and by ``loc``.
        bucket: ``minute``, ``hour`` or ``day``; over_time: per bucket start (of ``_ingested_at``) and contract version
            of the row's latest verdict (the quarantining one, or the latest replay's that re-checked it), the rows.
        samples: the newest rows: coordinates, state, that contract version, violations, payload (PII redacted).
    """

    table: str
    quarantine: str
    location: str
    version: int | None = None
    table_rows: int = 0
    rows: int = 0
    states: Counter[str] = field(default_factory=Counter)
    types_present: Counter[str] = field(default_factory=Counter)
    fields_present: Counter[str] = field(default_factory=Counter)
    status: str = "unresolved"
    by_type: Counter[str] = field(default_factory=Counter)
    by_field: Counter[str] = field(default_factory=Counter)
    bucket: str = "hour"
    over_time: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "quarantine": self.quarantine,
            "location": self.location,
            "version": self.version,
            "table_rows": self.table_rows,
            "rows": self.rows,
            "states": dict(self.states),
            "types_present": dict(self.types_present.most_common()),
            "fields_present": dict(self.fields_present.most_common()),
            "status": self.status,
            "by_type": dict(self.by_type.most_common()),
            "by_field": dict(self.by_field.most_common()),
            "bucket": self.bucket,
            "by_contract_version": self.over_time,
            "samples": self.samples,
        }


def show_quarantine(
    config: PipelineConfig,
    contracts: PipelineContracts,
    *,
    filter: QuarantineFilter | None = None,
    status: StatusChoice = "unresolved",
    samples: int = 5,
) -> list[QuarantineView]:
    """Every selected route's quarantine table, summarised (see the module docstring).

    Args:
        filter: which rows (times, fields, types, a SQL condition, route tables).
        status: which row states the breakdowns and samples cover.
        samples: how many of the newest rows to show per table.

    Returns:
        One view per route (the default route first), also for a route without a quarantine table yet.

    Raises:
        ConfigError: ``filter.tables`` names no route, or ``filter.where`` is not a valid expression.
        StorageUnavailableError: a table cannot be read.
    """
    filter = filter or QuarantineFilter()
    names = [r.table_name for r in contracts.routes]
    unknown = set(filter.tables) - set(names)
    if unknown:
        raise ConfigError(f"no route lands into {', '.join(sorted(unknown))}; the tables are {', '.join(names)}")
    return [
        _view(config, route, filter, STATUS_CHOICES[status], status, samples)
        for route in contracts.routes
        if not filter.tables or route.table_name in filter.tables
    ]


def _view(
    config: PipelineConfig,
    route: Route,
    filter: QuarantineFilter,
    wanted: frozenset[State],
    status: str,
    samples: int,
) -> QuarantineView:
    sink = route.sink
    view = QuarantineView(sink.table_name, sink.quarantine_name, sink.resolved_quarantine_uri, status=status)
    snapshot = QuarantineSnapshot.open(
        sink.resolved_quarantine_uri, sink.quarantine_name, storage_options=sink.storage_options
    )
    if snapshot is None:
        return view
    view.version, view.table_rows = snapshot.version, snapshot.rows
    states = read_states(sink.resolved_resolutions_uri, storage_options=sink.storage_options)
    times: list[tuple[dt.datetime, int]] = []
    newest: list[tuple[dt.datetime, int, int, dict[str, Any]]] = []
    seen = 0
    columns = [name for name in pa.schema(snapshot.table.schema().to_arrow()).names if name not in PAYLOAD_COLUMNS]
    for piece in snapshot.scan(filter, columns=columns):
        for row in piece.to_pylist():
            state, resolved = state_of(row, states)
            violations = resolved.violations if resolved is not None else row["violations"]
            if filter.types:  # a --type that matches nothing is most often a typo: say what it could have been
                view.types_present.update(v["type"] for v in violations if filter.at_fields(v))
            if filter.fields:  # likewise a --field, or a model's attribute name where the events use its alias
                view.fields_present.update(
                    v["loc"] for v in violations if v["loc"] and (not filter.types or v["type"] in filter.types)
                )
            if not filter.matches(violations):
                continue
            view.rows += 1
            view.states[state] += 1
            if state not in wanted:
                continue
            # The version of the latest verdict: a still failing or replayed row counts under the replay's version,
            # not the one that quarantined it (the row's contract_version, a --where can select by).
            version = resolved.contract_version if resolved is not None else row["contract_version"]
            view.by_type.update(v["type"] for v in violations)
            view.by_field.update(v["loc"] or "<event>" for v in violations)
            times.append((row["_ingested_at"], version))
            seen += 1
            entry = (row["_ingested_at"], row["_offset"], seen, {**row, "state": state, "current": violations,
                                                                  "version": version})
            if len(newest) < samples:
                heapq.heappush(newest, entry)
            elif samples:
                heapq.heappushpop(newest, entry)
    view.bucket, view.over_time = _over_time(times)
    policy = _display_policy(config, route)
    payloads = {key_of(row): row for row in snapshot.named(key_of(row) for *_, row in newest)}
    view.samples = [
        _sample({**row, **payloads.get(key_of(row), {})}, policy) for *_, row in sorted(newest, reverse=True)
    ]
    return view


def _over_time(times: list[tuple[dt.datetime, int]]) -> tuple[str, list[dict[str, Any]]]:
    """Rows per bucket and contract version: minute buckets over at most two hours, hour buckets over at most four
    days, day buckets beyond."""
    if not times:
        return "hour", []
    span = max(t for t, _ in times) - min(t for t, _ in times)
    bucket = "minute" if span <= dt.timedelta(hours=2) else "hour" if span <= dt.timedelta(days=4) else "day"
    counts: Counter[tuple[dt.datetime, int]] = Counter((_floor(t, bucket), v) for t, v in times)
    return bucket, [{"at": at.isoformat(), "contract_version": v, "rows": n} for (at, v), n in sorted(counts.items())]


def _floor(when: dt.datetime, bucket: str) -> dt.datetime:
    if bucket == "minute":
        return when.replace(second=0, microsecond=0)
    if bucket == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _display_policy(config: PipelineConfig, route: Route) -> PiiPolicy:
    """The route's PII policy as it is now, to show payloads no more than the table may hold (a field tagged since
    it was quarantined is redacted too); without the ``hash`` secret, hashed fields are left out."""
    pii = config.pii
    secret = pii.secret.get_secret_value().encode() if pii.secret else None
    try:
        return PiiPolicy.for_contract(route.contract, pii.actions, secret=secret, keep_unparseable=True)
    except ContractDeclarationError:
        if secret:
            raise
        actions = PiiPolicy.for_contract(route.contract, pii.actions, secret=b"unused").actions
        return PiiPolicy({p: ("drop" if a == "hash" else a) for p, a in actions.items()}, None, True)


def _sample(row: dict[str, Any], policy: PiiPolicy) -> dict[str, Any]:
    payload = policy.redact_payload(row.get("raw_payload"))
    text = None
    if payload is not None:
        text = payload.decode("utf-8", "replace")
        text = text if len(text) <= _TEXT else text[:_TEXT] + "…"
    removed = row["removed_values"]
    if removed:
        try:
            removed = json.dumps(policy.redact_document(json.loads(removed)))
        except ValueError:
            removed = None
    return {
        "source": row["_source"],
        "topic": row["_topic"],
        "partition": row["_partition"],
        "offset": row["_offset"],
        "load_id": row["_load_id"],
        "ingested_at": row["_ingested_at"].isoformat(),
        "state": row["state"],
        "contract_version": row["version"],
        "disposition": row["disposition"],
        "violations": [{"loc": v["loc"], "type": v["type"], "message": v["message"]} for v in row["current"]],
        "removed_values": removed,
        "payload": text,
    }
