"""A thin typed facade over one Delta table (delta-rs): create from a schema, read ``txn`` versions, append.

Exactly-once bookkeeping lives in the Delta log itself: every append carries ``txn`` actions (application
transaction id → version), as kafka-delta-ingest does.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import DeltaError, DeltaProtocolError, TableNotFoundError
from deltalake.exceptions import SchemaMismatchError as DeltaSchemaMismatchError

from streamproc.sinks.evolution import align_to, superset_schema
from streamproc.errors import SchemaMismatchError, SinkError, StorageUnavailableError

__all__ = ["DeltaTableWriter"]


class DeltaTableWriter:
    """Appends to one Delta table; creates it with ``schema`` on :meth:`open` if it does not exist.

    Lifecycle: construct → :meth:`open` (once) → :meth:`transaction_version` / :meth:`append`. Blocking: call it from a
    worker thread (``anyio.to_thread.run_sync``).
    """

    def __init__(
        self, uri: str, schema: pa.Schema, *, name: str, storage_options: Mapping[str, str] | None = None
    ) -> None:
        self.uri = uri
        self.name = name
        self.schema = schema
        self._storage_options = dict(storage_options or {})
        self._table: DeltaTable | None = None

    def open(self) -> None:
        """Load the table, creating it from the schema when absent.

        Raises:
            SchemaMismatchError: the existing table lacks a column of ``schema`` or types it differently, or has
                a non-nullable column ``schema`` lacks (nullable extra columns are evolved ones: accepted).
            StorageUnavailableError: the location cannot be read or written.
        """
        if self._table is not None:
            return
        try:
            table = DeltaTable.create(
                self.uri, schema=self.schema, mode="ignore", name=self.name, storage_options=self._storage_options
            )
        except (OSError, DeltaError) as exc:
            raise StorageUnavailableError(f"cannot open or create Delta table {self.uri}: {exc}") from exc
        existing = pa.schema(table.schema().to_arrow())
        # An evolved table (contract mode evolve) may have more columns than the contract: accept the superset.
        self.schema = superset_schema(existing, self.schema, uri=self.uri)
        self._table = table

    @property
    def table(self) -> DeltaTable:
        if self._table is None:
            raise SinkError(f"Delta table {self.uri} is not open")
        return self._table

    def refresh(self) -> None:
        """Read the log's newest commits (other writers may have committed)."""
        try:
            self.table.update_incremental()
        except (OSError, DeltaError) as exc:
            raise StorageUnavailableError(f"cannot read the log of {self.uri}: {exc}") from exc

    def transaction_version(self, app_id: str) -> int | None:
        """The version of the newest ``txn`` action for ``app_id`` as of the last :meth:`refresh`, or ``None``."""
        return self.table.transaction_version(app_id)

    def append(self, data: pa.Table, *, transactions: Mapping[str, int], metadata: Mapping[str, str]) -> int:
        """Append ``data`` (may be empty: the commit then only records the ``txn`` actions) in one commit.

        Args:
            data: rows with this table's schema.
            transactions: app id → version, written as ``txn`` actions in the same commit.
            metadata: string key/values for the commit's ``commitInfo`` (``custom_metadata``).

        Returns:
            The table version created by the commit.

        Raises:
            StorageUnavailableError: the write or the commit failed for a reason worth retrying.
            SinkError: the Delta protocol refused the write.
        """
        properties = CommitProperties(
            app_transactions=[Transaction(app_id=a, version=v) for a, v in transactions.items()],
            custom_metadata=dict(metadata),
        )
        try:
            # Columns the data added (contract mode evolve) are merged into the table schema in this commit.
            data, new_fields = align_to(data, self.schema)
            write_deltalake(
                self.table,
                data,
                mode="append",
                commit_properties=properties,
                schema_mode="merge" if new_fields else None,
            )
            if new_fields:
                self.schema = data.schema
        except DeltaSchemaMismatchError as exc:
            raise SchemaMismatchError(f"Delta table {self.uri} refused the batch's schema: {exc}") from exc
        except (DeltaProtocolError, TableNotFoundError) as exc:
            raise SinkError(f"Delta table {self.uri}: {exc}") from exc
        except (OSError, DeltaError) as exc:
            raise StorageUnavailableError(f"cannot append to Delta table {self.uri}: {exc}") from exc
        return self.table.version()


def _as_delta(arrow_type: pa.DataType) -> pa.DataType:
    # Delta stores every timestamp as microseconds; ms-precision columns come back as us.
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz=arrow_type.tz and "UTC")
    return arrow_type


def _describe(schema: pa.Schema) -> str:
    return "[" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "]"
