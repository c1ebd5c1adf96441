"""The quarantine tables a replay reads (:mod:`streamproc.ops.quarantine.replay`): which exist, which the replay has
anything to do in, and the tables each one replays into. Read only: nothing here creates or changes a table."""

from __future__ import annotations

from collections.abc import Sequence

from streamproc.config.resolve import PipelineContracts, Route
from streamproc.errors import ConfigError
from streamproc.ops.quarantine.rows import QuarantineFilter, QuarantineSnapshot, idle_reason, read_states
from streamproc.ops.quarantine.targets import left_interrupted

__all__ = ["busy_quarantines", "open_quarantines", "targets_of"]


def open_quarantines(
    contracts: PipelineContracts, filter: QuarantineFilter
) -> tuple[list[tuple[Route, QuarantineSnapshot]], list[str]]:
    """The quarantine tables a replay with ``filter`` reads, as of now (read only: a missing one is not created).

    Returns:
        Each selected route with its quarantine's snapshot, in config order; the selected route tables that have no
        quarantine table yet (no run has written one: nothing to replay there).

    Raises:
        ConfigError: ``filter.tables`` names no route.
        StorageUnavailableError: a quarantine table cannot be read.
    """
    names = {r.table_name for r in contracts.routes}
    unknown = set(filter.tables) - names
    if unknown:
        raise ConfigError(
            f"no route lands into {', '.join(sorted(unknown))}; the tables are {', '.join(sorted(names))}"
        )
    found, missing = [], []
    for route in contracts.routes:
        if filter.tables and route.table_name not in filter.tables:
            continue
        sink = route.sink
        snapshot = QuarantineSnapshot.open(
            sink.resolved_quarantine_uri, sink.quarantine_name, storage_options=sink.storage_options
        )
        if snapshot is None:
            missing.append(route.table_name)
        else:
            found.append((route, snapshot))
    return found, missing


def targets_of(contracts: PipelineContracts, route: Route) -> list[Route]:
    """The routes an event of ``route``'s quarantine may replay into (itself; with routing, the default route's
    quarantine into any route)."""
    if route.value is None and contracts.field is not None:
        return list(contracts.routes)
    return [route]


def busy_quarantines(
    contracts: PipelineContracts, sources: Sequence[tuple[Route, QuarantineSnapshot]], filter: QuarantineFilter
) -> tuple[list[tuple[Route, QuarantineSnapshot]], dict[str, str]]:
    """Of ``sources`` (from :func:`open_quarantines`), those a replay with ``filter`` has something to do in: a row
    to take, or a load a crash interrupted to complete. Read only: a replay that would take nothing writes nothing
    (no empty resolutions table, no contract version registered, no lineage run).

    Returns:
        The busy ones, in order; and for each other one, by quarantine table name, why there is nothing to replay
        (:func:`~streamproc.ops.quarantine.rows.idle_reason`).

    Raises:
        FilterError: ``filter.where`` is not a valid expression over a quarantine table's columns.
        StorageUnavailableError: a table cannot be read.
    """
    busy, idle = [], {}
    for route, snapshot in sources:
        if not left_interrupted(route, targets_of(contracts, route)):
            states = read_states(route.sink.resolved_resolutions_uri, storage_options=route.sink.storage_options)
            reason = idle_reason(snapshot, filter, states)
            if reason is not None:
                idle[snapshot.name] = reason
                continue
        busy.append((route, snapshot))
    return busy, idle
