"""Reading a Delta table into Arrow with delta-rs's own query engine.

Not ``DeltaTable.to_pyarrow_table()``: its pyarrow dataset scan leaves threads that can abort the process at
interpreter exit ("terminate called without an active exception", delta-io/delta-rs#2184, apache/arrow#34314),
which turns a successful CLI run or test session into exit code 134. ``QueryBuilder`` does not.

A user's filter is checked alone (:func:`check_filter`) before a query combines it with other conditions, so that
an error points into the condition as the user wrote it, not into the generated statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder
from deltalake.exceptions import DeltaError

from streamproc.errors import ConfigError

__all__ = ["FilterError", "check_filter", "read_table", "scan_table"]


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


class FilterError(ConfigError):
    """A filter (a SQL condition over a table's columns) the query engine refuses. Its message shows the condition
    with a caret under the fault, where one is known::

        cannot filter orders__quarantine: Expected: an expression, found: *
          _partition = 0 AND * 2
                             ^

    Attributes:
        table: the table's name.
        where: the condition as given.
        reason: the engine's message, without its position in the statement it planned.
        line, column: where in ``where`` the fault is, 1-based (``None``: the engine named no place).
    """

    def __init__(self, table: str, where: str, reason: str, *, line: int | None = None,
                 column: int | None = None) -> None:
        self.table, self.where, self.reason, self.line, self.column = table, where, reason, line, column
        shown = []
        for number, text in enumerate(where.splitlines() or [""], start=1):
            shown.append("  " + text)
            if number == line and column is not None:  # tabs kept, so that the caret lines up under them
                shown.append("  " + "".join(c if c == "\t" else " " for c in text[: column - 1]) + "^")
        super().__init__(f"cannot filter {table}: {reason}\n" + "\n".join(shown))


_WRAPPED = re.compile(r'^SQL error: \w+\("(?P<inner>.*)"\)$', re.S)
_AT = re.compile(r" at Line: (?P<line>\d+), Column: (?P<column>\d+)")
_NAMED = re.compile(
    r"No field named (?P<field>\S+?)\.?(?: Did you mean |$)|Invalid function '(?P<function>[^']+)'|Cannot cast string '(?P<value>[^']*)'",
    re.M,
)


def check_filter(table: DeltaTable, where: str, *, name: str) -> None:
    """Plan ``where`` alone over ``table``'s columns, and check that it is one condition: a query that then puts it
    in parentheses beside other conditions cannot fail to parse, nor be changed by it (an unbalanced ``)``, a
    ``LIMIT``).

    Args:
        where: a SQL boolean expression (DataFusion's dialect).
        name: the table's name, for the message.

    Raises:
        FilterError: the engine refuses ``where``: a syntax error, a column or function it does not know, a value
            that cannot be cast; the error's line and column are in ``where``'s own text.
        OSError: the table cannot be read.
    """
    # The condition on a line of its own: the engine's "Line: L, Column: C" is line L - 1 of the condition.
    for query, shape in ((f"SELECT * FROM t WHERE\n{where}", ""), (f"SELECT * FROM t WHERE (\n{where}\n)",
                                                                    "not a single condition: ")):
        try:
            QueryBuilder().register("t", table).execute(query)  # planned, not read
        except DeltaError as exc:
            raise _filter_error(name, where, str(exc), shape) from exc


_QUALIFIER = re.compile(r"(?<![\w.])t\.(?=[\w\"])")


def _filter_error(name: str, where: str, message: str, shape: str) -> FilterError:
    message = message.strip()
    wrapped = _WRAPPED.match(message)
    reason = wrapped.group("inner") if wrapped else message
    reason = _QUALIFIER.sub("", reason)  # "Valid fields are t.year, ...": ``t`` is our name for the table, not theirs
    lines = where.splitlines() or [""]
    end = (len(lines), len(lines[-1]) + 1)
    position: tuple[int, int] | None = None
    at = _AT.search(reason)
    if at:
        reason = reason[: at.start()] + reason[at.end():]
        at_line, at_column = int(at.group("line")) - 1, int(at.group("column"))
        inside = 1 <= at_line <= len(lines) and at_column <= len(lines[at_line - 1]) + 1
        position = (at_line, at_column) if inside else end
    elif reason.endswith("found: EOF"):
        position = end
    elif named := _NAMED.search(reason):
        position = _find(lines, named)
    line, column = position or (None, None)
    return FilterError(name, where, shape + " ".join(reason.split("\n")), line=line, column=column)


def _find(lines: list[str], named: re.Match[str]) -> tuple[int, int] | None:
    """Where the column or function the engine names first stands as a word in ``lines`` (quoted or not; or its
    last part, after a table qualifier), or the string literal it could not cast."""
    if named.group("value") is not None:
        patterns = [re.escape("'" + named.group("value") + "'")]
    else:
        name = (named.group("field") or named.group("function")).strip('"')
        names = dict.fromkeys((name, name.rpartition(".")[2]))
        patterns = [r'(?<![\w."])"?' + re.escape(n) + r'"?(?!\w)' for n in names]
    for pattern in patterns:
        for number, text in enumerate(lines, start=1):
            if found := re.search(pattern, text, re.I):
                return number, found.start() + 1
    return None
