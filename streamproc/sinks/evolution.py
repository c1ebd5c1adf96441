"""Table schemas that evolved past the compiled contract (``evolve``): checking and aligning them.

After ``columns: evolve`` or ``data_type: evolve`` a table has more columns than the contract compiles to: the
evolved ones (new keys, variant columns ``<col>__v_<type>``), added by Delta schema merge, nullable, and marked by
their field metadata (:mod:`contracts.evolve`). A table is accepted when it is such a superset: every contract
column present with its type, and every other column nullable.
"""

from __future__ import annotations

import pyarrow as pa

from streamproc.errors import SchemaMismatchError

__all__ = ["superset_schema", "align_to"]


def superset_schema(existing: pa.Schema, expected: pa.Schema, *, uri: str) -> pa.Schema:
    """The schema to write with: the table's columns in the table's order, typed as ``expected`` where it says.

    Args:
        existing: the Delta table's schema.
        expected: what the contract compiles to (plus lineage columns).

    Raises:
        SchemaMismatchError: a contract column is missing or has another type, or an extra column is not nullable
            (so not an evolved one).
    """
    by_name = {f.name: f for f in existing}
    problems = []
    for f in expected:
        found = by_name.get(f.name)
        if found is None:
            problems.append(f"{f.name} is missing")
        elif found.type != _as_delta(f.type):
            problems.append(f"{f.name} is {found.type}, the contract says {f.type}")
    extra = [f for f in existing if f.name not in expected.names]
    problems.extend(f"{f.name} is not in the contract and not nullable" for f in extra if not f.nullable)
    if problems:
        raise SchemaMismatchError(
            f"Delta table {uri} does not match the contract ({'; '.join(problems)}); its columns are "
            f"{_describe(existing)}; land into a new table or evolve the contract"
        )
    wanted = {f.name: f for f in expected}
    return pa.schema([wanted.get(f.name, f) for f in existing])


def align_to(data: pa.Table, schema: pa.Schema) -> tuple[pa.Table, list[pa.Field]]:
    """Reorder ``data`` like ``schema``, with null columns for what it lacks.

    Returns:
        The aligned rows (``schema``'s columns, then ``data``'s columns that ``schema`` lacks) and those new
        fields (evolved columns to merge into the table).
    """
    new_fields = [f for f in data.schema if f.name not in schema.names]
    target = pa.schema([*schema, *new_fields])
    if data.schema.names == target.names:
        return data.cast(target), new_fields
    columns = [
        data.column(f.name) if f.name in data.schema.names else pa.nulls(data.num_rows, f.type) for f in target
    ]
    return pa.Table.from_arrays(columns, names=target.names).cast(target), new_fields


def _as_delta(arrow_type: pa.DataType) -> pa.DataType:
    # Delta stores every timestamp as microseconds; ms-precision columns come back as us.
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz=arrow_type.tz and "UTC")
    return arrow_type


def _describe(schema: pa.Schema) -> str:
    return "[" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "]"
