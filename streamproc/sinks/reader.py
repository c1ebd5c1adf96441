"""Reading a Delta table into Arrow with delta-rs's own query engine.

Not ``DeltaTable.to_pyarrow_table()``: its pyarrow dataset scan leaves threads that can abort the process at
interpreter exit ("terminate called without an active exception", delta-io/delta-rs#2184, apache/arrow#34314),
which turns a successful CLI run or test session into exit code 134. ``QueryBuilder`` does not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder

__all__ = ["read_table", "scan_table"]


def read_table(
    table: str | DeltaTable,
    *,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> pa.Table:
    """Every row of a Delta table (its current version), optionally only some columns and rows.

    Args:
        table: the table's location, or an open :class:`DeltaTable` (read at the version it is loaded at).
        columns: column names to read, in this order; default all.
        where: a SQL boolean expression over the table's columns (DataFusion's dialect), e.g.
            ``"_partition = 0 AND _offset >= 100"``; default every row.

    Returns:
        A ``pyarrow.Table`` with the table's schema (or the chosen columns).

    Raises:
        deltalake.exceptions.TableNotFoundError: no table at the location.
        OSError, deltalake.exceptions.DeltaError: the table cannot be read, or ``where`` is not a valid
            expression over its columns.
    """
    delta = table if isinstance(table, DeltaTable) else DeltaTable(table, storage_options=dict(storage_options or {}))
    selected = ", ".join('"' + c.replace('"', '""') + '"' for c in columns) if columns else "*"
    reader = QueryBuilder().register("t", delta).execute(
        f"SELECT {selected} FROM t" + (f" WHERE {where}" if where else "")
    )
    result = pa.table(reader.read_all())
    # The engine hands out view types (string_view...); callers get the table's own Arrow types.
    schema = pa.schema(delta.schema().to_arrow())
    wanted = pa.schema([schema.field(name) for name in result.column_names])
    return result.cast(wanted)


def scan_table(
    table: DeltaTable, *, columns: Sequence[str] | None = None, where: str | None = None
) -> Iterator[pa.Table]:
    """The rows of a Delta table (at the version ``table`` is loaded at) a record batch at a time, as
    :func:`read_table` reads them but without holding the whole table in memory. The query is planned here, the
    rows read as the iterator is consumed.

    Returns:
        ``pyarrow.Table`` pieces with the table's Arrow types (or the chosen columns), in no particular order.

    Raises:
        OSError, deltalake.exceptions.DeltaError: the table cannot be read, or ``where`` is not a valid expression
            (here: planning), or reading failed (while iterating; evaluating ``where`` may fail then too).
    """
    selected = ", ".join('"' + c.replace('"', '""') + '"' for c in columns) if columns else "*"
    query = f"SELECT {selected} FROM t" + (f" WHERE {where}" if where else "")
    reader = QueryBuilder().register("t", table).execute(query)
    schema = pa.schema(table.schema().to_arrow())

    def pieces() -> Iterator[pa.Table]:
        for batch in reader:
            if batch.num_rows:
                piece = pa.Table.from_batches([pa.record_batch(batch)])
                yield piece.cast(pa.schema([schema.field(name) for name in piece.column_names]))

    return pieces()
