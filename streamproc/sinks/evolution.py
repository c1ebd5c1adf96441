"""Table schemas that differ from the compiled contract: checking them, and aligning rows to them.

After ``columns: evolve`` or ``data_type: evolve`` a table has more columns than the contract compiles to: the
evolved ones (new keys, variant columns ``<col>__v_<type>``), added by Delta schema merge, nullable, and marked by
their field metadata (:mod:`contracts.evolve`). A table is accepted when it is such a superset: every contract
column present with its type, and every other column nullable.

A new contract version may add fields: when the contract registry accepted the version (compatible at its level),
its added *nullable* columns are missing from the table only until the next append, which merges them in as it
merges evolved columns (rows landed earlier read null); so are the nullable fields it adds to a nested model's
struct column (:func:`widened_structs`). A missing non-nullable column (a required field) cannot be
added to a table that holds rows without a value for it: the table is refused.
"""

from __future__ import annotations

import pyarrow as pa

from streamproc.errors import SchemaMismatchError

__all__ = ["align_to", "missing_columns", "superset_schema", "widened_structs"]


def superset_schema(
    existing: pa.Schema, expected: pa.Schema, *, uri: str, add_nullable: bool = False
) -> pa.Schema:
    """The schema to write with: the table's columns in the table's order, typed as ``expected`` where it says.

    Args:
        existing: the Delta table's schema.
        expected: what the contract compiles to (plus lineage columns).
        add_nullable: accept nullable contract columns the table lacks (a new version the contract registry
            accepted): they are left out of the result, so that :func:`align_to` finds them new and the next
            append merges them into the table (:func:`missing_columns` lists them).

    Raises:
        SchemaMismatchError: a contract column is missing (and not nullable, or ``add_nullable`` is off) or has
            another type, or an extra column is not nullable (so not an evolved one).
    """
    by_name = {f.name: f for f in existing}
    problems = []
    for f in expected:
        found = by_name.get(f.name)
        if found is None and not f.nullable:
            problems.append(
                f"{f.name} is missing and required: the rows landed before have no value for it, so it cannot be "
                "added to the table (declare it optional)"
            )
        elif found is None and not add_nullable:
            problems.append(f"{f.name} is missing (a nullable column of a new contract version is added only "
                            "when the contract registry accepted the version)")
        elif found is None:
            continue
        elif add_nullable and _adds_nullable_children(found.type, f.type):
            continue  # a nested model's new optional field: merged into the struct by the next append
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


def missing_columns(existing: pa.Schema, expected: pa.Schema) -> list[pa.Field]:
    """The columns of ``expected`` that the table (``existing``) lacks, in ``expected``'s order."""
    return [f for f in expected if f.name not in existing.names]


def widened_structs(existing: pa.Schema, expected: pa.Schema) -> list[pa.Field]:
    """The struct columns of ``expected`` that add nullable fields to the table's (``existing``) struct of that name
    (a nested model's new optional field), in ``expected``'s order."""
    return [
        f for f in expected
        if f.name in existing.names and _adds_nullable_children(existing.field(f.name).type, f.type)
    ]


def _adds_nullable_children(found: pa.DataType, wanted: pa.DataType) -> bool:
    """Whether struct ``wanted`` is struct ``found`` plus nullable fields, at any depth (and not equal to it)."""
    if not (pa.types.is_struct(found) and pa.types.is_struct(wanted)):
        return False
    have = {found.field(i).name: found.field(i) for i in range(found.num_fields)}
    children = [wanted.field(i) for i in range(wanted.num_fields)]
    if not set(have) <= {c.name for c in children}:
        return False
    widened = False
    for child in children:
        old = have.get(child.name)
        if old is None:
            if not child.nullable:
                return False
            widened = True
        elif _adds_nullable_children(old.type, child.type):
            widened = True
        elif old.type != _as_delta(child.type) or old.nullable != child.nullable:
            return False
    return widened


def align_to(data: pa.Table, schema: pa.Schema) -> tuple[pa.Table, list[pa.Field]]:
    """Reorder ``data`` like ``schema``, with null columns for what it lacks.

    Returns:
        The aligned rows (``schema``'s columns, then ``data``'s columns that ``schema`` lacks) and those new
        fields (evolved columns to merge into the table).
    """
    new_fields = [f for f in data.schema if f.name not in schema.names]
    target = pa.schema([*schema, *new_fields])
    columns = [_column(data, f) if f.name in data.schema.names else pa.nulls(data.num_rows, f.type) for f in target]
    return pa.Table.from_arrays(columns, schema=target), new_fields


def _column(data: pa.Table, target: pa.Field) -> pa.ChunkedArray:
    # Cast only a column whose type differs: a nullable struct's non-nullable child may hold nulls under the
    # struct's own nulls (valid Arrow, as the decoder builds it), which a cast, even to the same type, refuses.
    column = data.column(target.name)
    return column if column.type.equals(target.type) else column.cast(target.type)


def _as_delta(arrow_type: pa.DataType) -> pa.DataType:
    # Delta stores every timestamp as microseconds; ms-precision columns come back as us.
    if pa.types.is_timestamp(arrow_type):
        return pa.timestamp("us", tz=arrow_type.tz and "UTC")
    return arrow_type


def _describe(schema: pa.Schema) -> str:
    return "[" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "]"
