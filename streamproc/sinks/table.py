"""The sink seam: what the committer and the exactly-once protocol need of a table format.

A table that records application transactions (``txn``: app id → version) atomically with each append, and keeps
string metadata on each commit, is enough for exactly-once landing and for rebuilding an interrupted load's record.
Delta Lake is the one implementation (:class:`streamproc.sinks.delta.DeltaTableWriter`); another format (Iceberg's
snapshot summary properties, Hudi's commit metadata) would be a new module implementing this protocol, not a copy
of the landing.

Lifecycle: :meth:`open` once → any other call. Blocking I/O: call from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import pyarrow as pa

__all__ = ["TransactionalTable"]


class TransactionalTable(Protocol):
    """One table of a pipeline (its table, its quarantine table, or ``_loads``).

    Attributes:
        uri: the table's location; name: its logical name; schema: the Arrow schema rows are written with.
    """

    uri: str
    name: str
    schema: pa.Schema

    def open(self) -> None:
        """Create the table from :attr:`schema` when absent, else check it.

        Raises:
            SchemaMismatchError: the existing table does not match.
            StorageUnavailableError: the location cannot be read or written.
        """
        ...

    def refresh(self) -> None:
        """Read the commits other writers made since.

        Raises:
            StorageUnavailableError: the log cannot be read.
        """
        ...

    def transaction_version(self, app_id: str) -> int | None:
        """The newest ``txn`` version of ``app_id`` as of the last :meth:`refresh` (``None``: never recorded)."""
        ...

    def append(self, data: pa.Table, *, transactions: Mapping[str, int], metadata: Mapping[str, str]) -> int:
        """Append ``data`` (possibly empty) and the ``txn`` versions in one atomic commit carrying ``metadata``.

        Returns:
            The table version the commit created.

        Raises:
            CommitConflictError: a concurrent writer won (refresh, filter, retry).
            StorageUnavailableError: the commit failed for a reason worth retrying.
            SchemaMismatchError: the table refused the rows' schema.
        """
        ...

    def history(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` commits, newest first: ``version``, ``timestamp`` (ms), ``operationMetrics``
        (``num_added_rows``) and the commit's metadata keys.

        Raises:
            StorageUnavailableError: the log cannot be read.
        """
        ...

    def present(self, column: str, values: Iterable[str]) -> set[str]:
        """Which of ``values`` occur in the string column ``column`` (as of the last :meth:`refresh`).

        Raises:
            StorageUnavailableError: the table cannot be read.
        """
        ...
