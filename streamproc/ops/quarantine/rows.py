"""Reading a quarantine table with what became of its rows: the filters ``show`` and ``replay`` share, a snapshot of
the quarantine at one Delta version, and each row's state from its resolutions (:mod:`streamproc.sinks.resolutions`).

A row's state:

==================  ==============================================================================================
``open``            never re-checked (a ``malformed`` or ``row_discarded`` event, not in the table)
``still_failing``   re-checked by a replay and refused again; its *current* violations are that replay's
``replayed``        landed into the table by a replay (``replay_load_id``)
``value_discarded`` landed by the pipeline without the values ``discard_value`` removed (kept here): never replayed
==================  ==============================================================================================
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from streamproc.errors import ConfigError, StorageUnavailableError
from streamproc.sinks.reader import FilterError, check_filter, scan_table

__all__ = [
    "PAYLOAD_COLUMNS",
    "Key",
    "QuarantineFilter",
    "QuarantineSnapshot",
    "RowState",
    "State",
    "idle_reason",
    "key_of",
    "read_states",
    "state_of",
]

PAYLOAD_COLUMNS = ("raw_key", "raw_payload", "raw_text")
"""The quarantine's columns holding the event itself (the bulk of its bytes)."""

Key = tuple[str, str, int, int]
"""A quarantine row's name: its ``_load_id``, ``_topic``, ``_partition`` and ``_offset``."""

State = Literal["open", "still_failing", "replayed", "value_discarded"]

_EARLIEST = dt.datetime(1678, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(2262, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """Which quarantine rows a command looks at (every given condition must hold).

    Attributes:
        since, until: quarantined (``_ingested_at``) at or after / before these times (UTC).
        fields: a current violation's ``loc`` is one of these, or inside one (``address`` matches ``address.zip``).
        types: a current violation's ``type`` is one of these (``missing``, ``literal_error``, ...).
        where: a SQL boolean expression over the quarantine table's columns (DataFusion's dialect), e.g.
            ``"_partition = 0 AND contract_version = 1"``.
        tables: only the quarantines of these route tables (default: every route's).
    """

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    fields: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    where: str | None = None
    tables: tuple[str, ...] = ()

    def sql(self) -> str | None:
        """The conditions the quarantine scan pushes down (times and ``where``), or ``None``."""
        parts = []
        for op, when in ((">=", self.since), ("<", self.until)):
            if when is not None:
                utc = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
                utc = min(max(utc, _EARLIEST), _LATEST)  # the query engine's timestamps are nanoseconds
                parts.append(f"_ingested_at {op} TIMESTAMP '{utc.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z'")
        if self.where:  # on lines of its own: a trailing "-- comment" in it ends at its line
            parts.append(f"(\n{self.where}\n)")
        return " AND ".join(parts) or None

    def matches(self, violations: Sequence[Mapping[str, Any]]) -> bool:
        """Whether a row with these current violations passes :attr:`fields` and :attr:`types` (both must match
        the same violation)."""
        if not self.fields and not self.types:
            return True
        return any((not self.types or v.get("type") in self.types) and self.at_fields(v) for v in violations)

    def at_fields(self, violation: Mapping[str, Any]) -> bool:
        """Whether a violation's ``loc`` is one of :attr:`fields` or inside one (any violation, without fields)."""
        return not self.fields or any(_within(violation.get("loc") or "", f) for f in self.fields)


def _within(loc: str, path: str) -> bool:
    return loc == path or loc.startswith(path + ".")


@dataclass(frozen=True, slots=True)
class RowState:
    """A quarantine row's newest resolution.

    Attributes:
        status: ``replayed`` or ``still_failing``.
        table_name: the table it was replayed into or re-checked for.
        contract_version, contract_hash: the contract version that accepted or refused it.
        violations: the refusal's violations (``loc``, ``type``, ``message``, ``entity``, ``mode``).
        replay_load_id: the replay load that resolved it.
    """

    status: Literal["replayed", "still_failing"]
    table_name: str
    contract_version: int
    contract_hash: str
    violations: tuple[dict[str, Any], ...]
    replay_load_id: str


def read_states(uri: str, *, storage_options: Mapping[str, str] | None = None) -> dict[Key, RowState]:
    """Each resolved quarantine row's newest resolution, from the resolutions table at ``uri`` (``{}``: none yet).

    Raises:
        StorageUnavailableError: the table cannot be read.
    """
    try:
        table = DeltaTable(uri, storage_options=dict(storage_options or {}) or None)
    except TableNotFoundError:
        return {}
    except (OSError, DeltaError) as exc:
        raise StorageUnavailableError(f"cannot read {uri}: {exc}") from exc
    newest: dict[Key, tuple[tuple[dt.datetime, int], RowState]] = {}
    try:
        for piece in scan_table(table):
            for row in piece.to_pylist():
                key = (row["quarantine_load_id"], row["_topic"], row["_partition"], row["_offset"])
                order = (row["resolved_at"], row["replay_sequence"])
                known = newest.get(key)
                if known is None or order >= known[0]:
                    newest[key] = (
                        order,
                        RowState(
                            row["status"],
                            row["table_name"],
                            row["contract_version"],
                            row["contract_hash"],
                            tuple(row["violations"]),
                            row["replay_load_id"],
                        ),
                    )
    except (OSError, DeltaError) as exc:
        raise StorageUnavailableError(f"cannot read {uri}: {exc}") from exc
    return {key: state for key, (_, state) in newest.items()}


def state_of(row: Mapping[str, Any], states: Mapping[Key, RowState]) -> tuple[State, RowState | None]:
    """A quarantine row's state (see the module docstring) and its newest resolution."""
    resolved = states.get(key_of(row))
    if resolved is not None:
        return resolved.status, resolved
    return ("value_discarded" if row["disposition"] == "value_discarded" else "open"), None


def key_of(row: Mapping[str, Any]) -> Key:
    return (row["_load_id"], row["_topic"], row["_partition"], row["_offset"])


_NOT_TAKEN = {"replayed": "replayed already", "value_discarded": "landed by the pipeline (value_discarded)"}


def idle_reason(
    snapshot: QuarantineSnapshot, filter: QuarantineFilter, states: Mapping[Key, RowState]
) -> str | None:
    """Why a replay with ``filter`` takes no row of ``snapshot`` (e.g. ``"none of its 22 rows match the
    filters"``), or ``None`` as soon as one row is to take: matching the filter, in state ``open`` or
    ``still_failing``. Reads the rows without their payloads (:data:`PAYLOAD_COLUMNS`).

    Raises:
        FilterError: ``filter.where`` is not a valid expression over the table's columns.
        StorageUnavailableError: the table cannot be read.
    """
    columns = [name for name in pa.schema(snapshot.table.schema().to_arrow()).names if name not in PAYLOAD_COLUMNS]
    matched: Counter[str] = Counter()
    for piece in snapshot.scan(filter, columns=columns):
        for row in piece.to_pylist():
            state, resolved = state_of(row, states)
            if not filter.matches(resolved.violations if resolved is not None else row["violations"]):
                continue
            if state not in _NOT_TAKEN:
                return None
            matched[state] += 1
    filtered = bool(filter.sql() or filter.fields or filter.types)
    if not matched:
        if not filtered or not snapshot.rows:
            return "it holds no rows"
        return "its one row does not match the filters" if snapshot.rows == 1 else (
            f"none of its {snapshot.rows:,} rows match the filters"
        )
    each = ", ".join(f"{n:,} {_NOT_TAKEN[state]}" for state, n in matched.most_common())
    return f"every {'matching ' if filtered else ''}row is landed: {each}"


@dataclass(eq=False)
class QuarantineSnapshot:
    """One quarantine table at the Delta version it had when opened: rows the pipeline appends later are not in it.

    Attributes:
        uri, name: the table's location and logical name.
        version: the Delta version read.
        rows: its row count (from the log's file statistics).
    """

    uri: str
    name: str
    table: DeltaTable = field(repr=False)
    version: int
    rows: int

    @classmethod
    def open(
        cls, uri: str, name: str, *, storage_options: Mapping[str, str] | None = None
    ) -> QuarantineSnapshot | None:
        """The quarantine table at ``uri`` as of now, or ``None`` when there is none yet.

        Raises:
            StorageUnavailableError: it cannot be read.
        """
        try:
            table = DeltaTable(uri, storage_options=dict(storage_options or {}) or None)
            actions = pa.table(table.get_add_actions(flatten=True))
        except TableNotFoundError:
            return None
        except (OSError, DeltaError) as exc:
            raise StorageUnavailableError(f"cannot read {uri}: {exc}") from exc
        rows = sum(v or 0 for v in actions.column("num_records").to_pylist()) if actions.num_rows else 0
        return cls(uri, name, table, table.version(), rows)

    def scan(self, filter: QuarantineFilter | None = None, *, columns: Sequence[str] | None = None
             ) -> Iterator[pa.Table]:
        """The rows matching ``filter``'s times and ``where`` (not its fields and types: :meth:`QuarantineFilter.
        matches` decides those per row), a record batch at a time.

        Raises:
            FilterError: ``filter.where`` is not a valid expression over the table's columns, or cannot be
                evaluated (a :class:`ConfigError`; its message points into ``filter.where``).
            StorageUnavailableError: the table cannot be read.
        """
        where = filter.where if filter else None
        if where:
            try:
                check_filter(self.table, where, name=self.name)
            except OSError as exc:
                raise StorageUnavailableError(f"cannot read {self.uri}: {exc}") from exc
        return self._scan(filter.sql() if filter else None, columns=columns, where=where)

    def _scan(self, sql: str | None, *, columns: Sequence[str] | None = None, where: str | None = None
              ) -> Iterator[pa.Table]:
        """The rows matching ``sql``, whose part from the user is ``where`` (checked)."""
        try:
            pieces = scan_table(self.table, columns=columns, where=sql)
        except (OSError, DeltaError) as exc:
            raise StorageUnavailableError(f"cannot read {self.uri}: {exc}") from exc
        try:
            yield from pieces
        except OSError as exc:
            raise StorageUnavailableError(f"cannot read {self.uri}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - the engine raises bare errors when evaluating a filter fails
            if where and not isinstance(exc, DeltaError | StorageUnavailableError | ConfigError):
                raise FilterError(self.name, where, _first_line(exc)) from exc
            raise StorageUnavailableError(f"cannot read {self.uri}: {exc}") from exc

    def named(self, keys: Iterable[Key]) -> list[dict[str, Any]]:
        """The rows named ``keys`` (those in the snapshot), every column, in key order.

        Raises:
            StorageUnavailableError: the table cannot be read.
        """
        wanted = set(keys)
        if not wanted:
            return []
        load_ids = ", ".join("'" + load_id.replace("'", "''") + "'" for load_id in sorted({k[0] for k in wanted}))
        pieces = self._scan(f"_load_id IN ({load_ids})")
        found = [row for piece in pieces for row in piece.to_pylist() if key_of(row) in wanted]
        return sorted(found, key=key_of)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
