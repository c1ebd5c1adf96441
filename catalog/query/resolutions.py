"""What replays made of a quarantine's rows: streamproc's resolutions table beside the quarantine, read as data.

``streamproc quarantine replay`` appends, for each quarantine row it takes, one row to ``<quarantine
location>_resolutions`` (streamproc's ``sinks/resolutions.py`` and docs/quarantine.md; the runtime's
``SinkConfig.resolved_resolutions_uri``). The catalog never imports the runtime (import-linter's
``catalog-no-runtime``), so the table's location and column names are spelled here, as the data they are; the
catalog's tests check them against the runtime's ``RESOLUTIONS_SCHEMA``:

- the quarantine row's key: ``quarantine_load_id`` (the row's ``_load_id``), ``_topic``, ``_partition``, ``_offset``;
- ``status`` (``replayed`` | ``still_failing``), ``table_name`` (the table it landed into, or was re-checked for),
  ``replay_sequence``, ``replay_load_id``, ``replay_run_id``, ``contract_version`` (that accepted or refused it),
  ``violations`` (of that refusal), ``resolved_at``.

A row's newest resolution (by ``resolved_at``, then ``replay_sequence``) is its state; the quarantine rows are never
changed. The states, as ``streamproc quarantine show`` names them:

===================  ============================================================================================
``open``             no resolution: never replayed (``malformed`` or ``row_discarded``), not in the table
``still_failing``    re-checked by a replay and refused again; its current violations are that replay's
``replayed``         landed into a table by a replay load
``value_discarded``  landed by the pipeline without the values ``discard_value`` removed: never replayed
===================  ============================================================================================
"""

from __future__ import annotations

from typing import Any, Literal

from catalog.query.lake import open_query
from catalog.storage.reads import iso

__all__ = [
    "RESOLUTION_COLUMNS",
    "RESOLUTIONS_SUFFIX",
    "ROW_KEY",
    "STATES",
    "State",
    "resolutions_location",
    "rows_with_state",
    "summary",
]

RESOLUTIONS_SUFFIX = "_resolutions"
"""The resolutions table is ``<quarantine location>_resolutions`` (``<table>__quarantine_resolutions``)."""

State = Literal["open", "still_failing", "replayed", "value_discarded"]
STATES: tuple[State, ...] = ("open", "still_failing", "replayed", "value_discarded")

ROW_KEY = (
    ("_load_id", "quarantine_load_id"),
    ("_topic", "_topic"),
    ("_partition", "_partition"),
    ("_offset", "_offset"),
)
"""How a resolution names its quarantine row: (the quarantine's column, the resolutions' column), in the runtime's
``KEY_COLUMNS`` order."""

RESOLUTION_COLUMNS = (
    *(theirs for _, theirs in ROW_KEY),
    "status",
    "table_name",
    "replay_sequence",
    "replay_load_id",
    "replay_run_id",
    "contract_version",
    "violations",
    "resolved_at",
)
"""The resolutions table's columns the catalog reads."""

_NEWEST = (
    "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY quarantine_load_id, _topic, _partition, _offset "
    "ORDER BY resolved_at DESC, replay_sequence DESC) AS _rank FROM r) WHERE _rank = 1)"
)
_DISCARDED = "CASE WHEN q.disposition = 'value_discarded' THEN 'value_discarded' ELSE 'open' END"


def resolutions_location(quarantine_location: str) -> str:
    """Where the resolutions of the quarantine at ``quarantine_location`` are (whether or not a replay made them)."""
    return quarantine_location.rstrip("/") + RESOLUTIONS_SUFFIX


def rows_with_state(*, resolved: bool) -> str:
    """SQL (a parenthesised subquery, to alias) of the quarantine ``q``'s rows, every column, with ``state``
    (:data:`STATES`) and their newest resolution as ``r_status``, ``r_table``, ``r_load_id``, ``r_run_id``,
    ``r_contract_version``, ``r_violations``, ``r_resolved_at`` (NULL for a row without one).

    Args:
        resolved: the resolutions table is registered as ``r`` (``open_query.also``); without it, no row has a
            resolution and the ``r_`` columns are left out.
    """
    if not resolved:
        return f"(SELECT q.*, {_DISCARDED} AS state FROM q)"
    on = " AND ".join(f"q.{ours} = n.{theirs}" for ours, theirs in ROW_KEY)
    return (
        f"(SELECT q.*, CASE WHEN n.status IS NOT NULL THEN n.status ELSE {_DISCARDED} END AS state, "
        "n.status AS r_status, n.table_name AS r_table, n.replay_load_id AS r_load_id, n.replay_run_id AS r_run_id, "
        "n.contract_version AS r_contract_version, n.violations AS r_violations, n.resolved_at AS r_resolved_at "
        f"FROM q LEFT JOIN {_NEWEST} n ON {on})"
    )


def summary(q: open_query, *, resolved: bool) -> dict[str, Any]:
    """The quarantine ``q``'s events by state and, when ``resolved``, by the replay load that last judged them.

    Returns:
        ``{"states": {state: events} (every one of :data:`STATES`), "replays": [{"loadId", "runId", "table",
        "contractVersion", "resolvedAt", "replayed", "stillFailing"}] (newest first; events whose newest resolution
        is that load's), "stillFailingByType": [{"type", "count"}] (the violations that replays found, counted
        over the still-failing events)}``.

    Raises:
        OSError, DeltaError, ValueError: a table cannot be read (``LAKE_ERRORS``).
    """
    rows = rows_with_state(resolved=resolved)
    counted = {r["state"]: r["n"] for r in q.rows(f"SELECT state, count(*) AS n FROM {rows} GROUP BY 1")}
    result: dict[str, Any] = {
        "states": {state: int(counted.get(state, 0)) for state in STATES},
        "replays": [],
        "stillFailingByType": [],
    }
    if not resolved:
        return result
    replays = q.rows(
        "SELECT r_load_id, r_run_id, r_table, r_contract_version, max(r_resolved_at) AS at, "
        "sum(CASE WHEN r_status = 'replayed' THEN 1 ELSE 0 END) AS replayed, "
        "sum(CASE WHEN r_status = 'still_failing' THEN 1 ELSE 0 END) AS failing "
        f"FROM {rows} s WHERE r_status IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1"
    )
    failing = q.rows(
        f"SELECT v['type'] AS type, count(*) AS n FROM (SELECT unnest(r_violations) AS v FROM {rows} s "
        "WHERE r_status = 'still_failing') GROUP BY 1 ORDER BY 2 DESC, 1"
    )
    result["replays"] = [
        {
            "loadId": r["r_load_id"],
            "runId": r["r_run_id"],
            "table": r["r_table"],
            "contractVersion": r["r_contract_version"],
            "resolvedAt": iso(r["at"]),
            "replayed": int(r["replayed"]),
            "stillFailing": int(r["failing"]),
        }
        for r in replays
    ]
    result["stillFailingByType"] = [{"type": r["type"], "count": r["n"]} for r in failing]
    return result
