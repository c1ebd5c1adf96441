"""Reading what streamproc landed: a table, its quarantine table and ``_loads``, as ``pyarrow.Table``.

These go through delta-rs' own query engine (``deltalake.QueryBuilder``), never through
``DeltaTable.to_pyarrow_table()``: that call scans with pyarrow datasets over a Python file system, whose worker
threads may still release Python file objects after the call returned; if the interpreter is already finalizing,
such a thread is killed while it unwinds a C++ destructor and the process aborts ("terminate called without an
active exception", exit code 134) after the data was read (delta-io/delta-rs#2184, apache/arrow#34314).
docs/reading.md says more, and how to read with DuckDB or polars instead.

Example:
    ```python
    import streamproc

    flights = streamproc.read_table("var/demo/lake/flights", columns=["carrier", "flight", "_offset"],
                                    filter="_partition = 0 AND _offset < 100")
    rejected = streamproc.read_quarantine("var/demo/lake/flights")
    loads = streamproc.read_loads("var/demo/lake/flights")
    ```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from streamproc.errors import TableReadError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["read_table", "read_quarantine", "read_loads"]


def read_table(
    uri: str | Path,
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,  # noqa: A002 -- the word delta-rs, pyarrow and polars users know
    version: int | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> pa.Table:
    """The rows of a Delta table streamproc landed (or any Delta table), read without the exit-time abort.

    Args:
        uri: the table's location: a local path or a URL (``s3://bucket/lake/flights``), as in ``sink.table_uri``.
        columns: the columns to read, in this order; default every column.
        filter: a SQL boolean expression over the table's columns, in DataFusion's dialect (delta-rs' engine),
            e.g. ``"_partition = 0 AND _offset >= 100"`` or ``"carrier IN ('AA', 'UA')"``; default every row. It is
            checked alone first, as ``quarantine show --where`` is: one condition, nothing after it (no ``LIMIT``).
        version: the table version (Delta transaction log version) to read; default the latest.
        storage_options: passed to delta-rs (object store credentials and options, as ``sink.storage_options``);
            ``AWS_*`` variables in the environment are read too.

    Returns:
        A ``pyarrow.Table`` with the table's own Arrow schema (or the chosen columns): for a landed table, the
        contract's columns followed by the lineage columns ``_load_id``, ``_ingested_at``, ``_source``,
        ``_partition``, ``_offset``, ``_contract_version``. Row order is not specified.

    Raises:
        TableReadError: no Delta table at ``uri`` (or no such ``version``), the storage cannot be read, or a
            column or the filter does not fit the table; the message names the table. A filter the engine refuses
            is shown under the message with a caret under the fault, at its line and column in ``filter`` as
            written, not in the statement the engine planned (as ``quarantine show --where`` shows it; the
            ``__cause__`` is a ``streamproc.sinks.reader.FilterError`` with ``line`` and ``column``).

    Example:
        ```python
        import streamproc

        late = streamproc.read_table("var/demo/lake/flights", columns=["carrier", "flight", "arr_delay"],
                                     filter="arr_delay > 120")
        ```
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    from streamproc.sinks.reader import FilterError, check_filter
    from streamproc.sinks.reader import read_table as query

    location = str(uri)
    options = dict(storage_options or {})
    try:
        table = DeltaTable(location, version=version, storage_options=options)
        if filter:  # alone, so that an error points into the filter as written, not into the generated query
            check_filter(table, filter, name=location)
        return query(table, columns=columns, where=filter)
    except TableNotFoundError as exc:
        raise TableReadError(f"no Delta table at {location}: {exc}") from exc
    except FilterError as exc:
        raise TableReadError(str(exc)) from exc
    except (DeltaError, OSError, ValueError) as exc:
        # delta-rs raises its engine's errors (unknown column, bad SQL, storage) as DeltaError or OSError
        raise TableReadError(f"cannot read the Delta table at {location}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - only the engine's bare errors, below
        if type(exc) is not Exception:  # a TypeError or another bug: not a read error
            raise
        # delta-rs raises what fails while reading as a bare Exception: evaluating the filter on a row (a value that
        # does not cast), or reading a file
        raise TableReadError(f"cannot read the Delta table at {location}: {exc}") from exc


def read_quarantine(
    table_uri: str | Path,
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,  # noqa: A002
    storage_options: Mapping[str, str] | None = None,
) -> pa.Table:
    """Every event the table's pipeline did not land as sent: its quarantine table ``<table_uri>__quarantine``.

    Args:
        table_uri: the landed table's location (``sink.table_uri``), not the quarantine table's.
        columns: as for :func:`read_table`.
        filter: as for :func:`read_table`, e.g. ``"disposition = 'malformed'"``.
        storage_options: as for :func:`read_table`.

    Returns:
        A ``pyarrow.Table`` with the quarantine schema: ``raw_payload`` (binary, as received), ``raw_text``,
        ``violations`` (list of ``{loc, type, message, entity, mode}``), ``disposition`` (``malformed``,
        ``row_discarded``, ``value_discarded``), ``removed_values``, the contract's name, version and hash, and the
        source coordinates ``_source``, ``_topic``, ``_partition``, ``_offset``, ``_source_timestamp``.

    Raises:
        TableReadError: as for :func:`read_table` (no quarantine table until the pipeline's first load).
    """
    from streamproc.config.contracts import SinkConfig  # the one rule for where the quarantine table is

    return read_table(
        SinkConfig(table_uri=str(table_uri)).resolved_quarantine_uri,
        columns=columns,
        filter=filter,
        storage_options=storage_options,
    )


def read_loads(
    table_uri: str | Path,
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,  # noqa: A002
    storage_options: Mapping[str, str] | None = None,
) -> pa.Table:
    """The loads (micro-batches) recorded in the ``_loads`` table beside ``table_uri``, one row per load.

    ``_loads`` is shared by every pipeline landing in the same folder; this returns the rows of every table there.
    Narrow it with ``filter``, e.g. ``"table_name = 'flights'"`` or ``"close_reason = 'shutdown'"``.

    Args:
        table_uri: a landed table's location (``sink.table_uri``); ``_loads`` is its sibling ``_loads`` folder.
        columns: as for :func:`read_table`.
        filter: as for :func:`read_table`, e.g. ``"table_name = 'flights'"``.
        storage_options: as for :func:`read_table`.

    Returns:
        A ``pyarrow.Table`` with ``_loads``' schema: ``load_id``, ``run_id``, ``pipeline``, ``table_name``,
        ``table_uri``, ``consumer_group``, ``contract_name``/``contract_version``/``contract_hash``,
        ``rows_landed``, ``rows_quarantined``, ``bytes``, ``close_reason``, ``offsets`` (per partition: topic,
        partition, first and last offset), ``delta_version``, ``quarantine_delta_version``, ``started_at``,
        ``committed_at``.

    Raises:
        TableReadError: as for :func:`read_table`.
    """
    from streamproc.config.contracts import SinkConfig  # the one rule for where _loads is

    return read_table(
        SinkConfig(table_uri=str(table_uri)).resolved_loads_uri,
        columns=columns,
        filter=filter,
        storage_options=storage_options,
    )
