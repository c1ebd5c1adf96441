"""Reading the lake's own tables from the catalog: where a dataset lives, and SQL over a Delta table through
delta-rs's query engine (``QueryBuilder``, DataFusion), never ``to_pyarrow_table()`` (its dataset scan can abort the
process at exit, delta-io/delta-rs#2184).

Used for what lineage events do not carry: a quarantine's rejected events (``catalog.query.quarantine``), what
replays made of them (``catalog.query.resolutions``), and the contract registry's ``_contracts`` (declared or
inferred versions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import DeltaError, TableNotFoundError

__all__ = ["LAKE_ERRORS", "contract_origins", "dataset_location", "open_query"]

LAKE_ERRORS = (OSError, DeltaError, ValueError)
"""What reading a lake table may raise: an unreachable store, no table there, an unreadable log."""


def dataset_location(namespace: str, name: str) -> str:
    """Where a dataset named by the OpenLineage naming spec lives: ``file`` → the path; ``s3://bucket`` (any
    ``scheme://authority``) → ``s3://bucket/<name>``."""
    if namespace == "file":
        return name
    return namespace.rstrip("/") + "/" + name.lstrip("/")


class open_query:  # noqa: N801 - reads as a function: rows = open_query(location).rows("SELECT ...")
    """The Delta table at ``location`` registered as ``q`` for SQL.

    Raises:
        OSError, DeltaError, ValueError: the table cannot be opened (see ``LAKE_ERRORS``).
    """

    def __init__(self, location: str, storage_options: Mapping[str, str] | None = None) -> None:
        self._options = dict(storage_options or {}) or None
        self._builder = QueryBuilder().register("q", DeltaTable(location, storage_options=self._options))

    def also(self, name: str, location: str) -> bool:
        """Register the Delta table at ``location`` as ``name`` too (same storage options), to join it with ``q``.

        Returns:
            ``False`` (nothing registered) when there is no Delta table at ``location``.

        Raises:
            OSError, DeltaError, ValueError: there is one, but it cannot be opened (see ``LAKE_ERRORS``).
        """
        try:
            table = DeltaTable(location, storage_options=self._options)
        except TableNotFoundError:
            return False
        self._builder.register(name, table)
        return True

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The result of ``sql`` as Python rows."""
        return pa.table(self._builder.execute(sql).read_all()).to_pylist()


def contract_origins(table_location: str, storage_options: Mapping[str, str] | None = None) -> dict[tuple[str, str], str]:
    """``(contract name, version)`` → ``declared`` or ``inferred`` from the ``_contracts`` table beside
    ``table_location`` (the runtime's default place; the newest row of a version wins). Empty when there is none or
    it cannot be read."""
    parent = table_location.rstrip("/").rsplit("/", 1)[0]
    try:
        rows = open_query(f"{parent}/_contracts", storage_options).rows(
            "SELECT name, version, origin FROM q ORDER BY registered_at"
        )
    except LAKE_ERRORS:
        return {}
    return {(str(r["name"]), str(r["version"])): str(r["origin"]) for r in rows}
