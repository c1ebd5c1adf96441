"""``streamproc.read_table`` / ``read_quarantine`` / ``read_loads`` on tables the real ``streamproc run`` landed."""

from __future__ import annotations

import re

import subprocess
import sys

import pytest

import streamproc
from streamproc.errors import TableReadError
from tests.docs.lake import DemoLake


def test_import_streamproc_imports_neither_pyarrow_nor_deltalake() -> None:
    code = "import sys, streamproc; print(sorted(m for m in ('pyarrow', 'deltalake', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_read_table_returns_every_landed_row_with_its_lineage_columns(demo_lake_root: DemoLake) -> None:
    table = streamproc.read_table(demo_lake_root.table)
    assert table.num_rows == demo_lake_root.landed
    assert table.column_names[-6:] == ["_load_id", "_ingested_at", "_source", "_partition", "_offset", "_contract_version"]
    assert str(table.schema.field("carrier").type) == "string"  # the table's own types, not the engine's views


def test_columns_and_filter_choose_what_is_read(demo_lake_root: DemoLake) -> None:
    everything = streamproc.read_table(demo_lake_root.table, columns=["origin", "dep_delay"]).to_pylist()
    late_from_jfk = streamproc.read_table(
        demo_lake_root.table, columns=["dep_delay", "origin"], filter="origin = 'JFK' AND dep_delay > 30"
    )
    assert late_from_jfk.column_names == ["dep_delay", "origin"]
    expected = sorted(r["dep_delay"] for r in everything if r["origin"] == "JFK" and (r["dep_delay"] or 0) > 30)
    assert expected and sorted(late_from_jfk["dep_delay"].to_pylist()) == expected


def test_version_reads_the_table_as_it_was(demo_lake_root: DemoLake) -> None:
    first = streamproc.read_table(demo_lake_root.table, version=1)  # version 0 created the table empty
    assert 0 < first.num_rows < demo_lake_root.landed


def test_quarantine_and_loads_are_found_from_the_tables_location(demo_lake_root: DemoLake) -> None:
    rejected = streamproc.read_quarantine(demo_lake_root.table, columns=["disposition", "_offset"])
    assert sorted(rejected["disposition"].to_pylist()) == ["malformed", "row_discarded"]
    loads = streamproc.read_loads(demo_lake_root.table, filter="table_name = 'flights'")
    assert sum(loads["rows_landed"].to_pylist()) == demo_lake_root.landed
    assert sum(loads["rows_quarantined"].to_pylist()) == demo_lake_root.quarantined


@pytest.mark.parametrize(
    ("where", "kwargs", "says"),
    [
        ("missing", {}, "no Delta table at"),
        ("table", {"columns": ["no_such_column"]}, "no_such_column"),
        ("table", {"filter": "no_such_column > 1"}, "no_such_column"),
        ("table", {"version": 999}, "cannot read"),
    ],
)
def test_what_cannot_be_read_is_a_table_read_error_naming_the_table(
    demo_lake_root: DemoLake, where: str, kwargs: dict[str, object], says: str
) -> None:
    uri = demo_lake_root.table if where == "table" else demo_lake_root.root / "var" / "nowhere"
    with pytest.raises(TableReadError, match=says) as raised:
        streamproc.read_table(uri, **kwargs)  # type: ignore[arg-type]
    assert str(uri) in str(raised.value)


@pytest.mark.parametrize(
    ("filter_", "says", "line", "column"),
    [
        ("origin = 'JFK'\n  AND * 2", "Expected: an expression, found: *", 2, 7),
        ("origin = 'JFK' AND dep_dleay > 60", "No field named dep_dleay", 1, 20),
        ("origin = 'JFK' LIMIT 5", "not a single condition", 1, 16),  # ran as a LIMIT before: 5 rows, no error
    ],
    ids=["syntax", "unknown-column", "not-one-condition"],
)
def test_a_refused_filter_is_shown_with_a_caret_where_the_user_wrote_the_fault(
    demo_lake_root: DemoLake, filter_: str, says: str, line: int, column: int
) -> None:
    with pytest.raises(TableReadError, match=says) as raised:
        streamproc.read_table(demo_lake_root.table, filter=filter_)
    message = str(raised.value)
    assert message.startswith(f"cannot filter {demo_lake_root.table}: ")
    assert "Line:" not in message and "Column:" not in message  # no position in the generated statement
    shown = message.splitlines()[1:]
    faulty = filter_.splitlines()[line - 1]
    caret = shown.index("  " + faulty) + 1
    assert shown[caret] == "  " + " " * (column - 1) + "^"
    assert (raised.value.__cause__.line, raised.value.__cause__.column) == (line, column)  # type: ignore[union-attr]
    assert not re.search(r"(?<![\w/.-])t\.\w", message), message  # the engine's name for the table is not the user's


def test_a_filter_that_fails_on_a_rows_value_is_a_table_read_error(demo_lake_root: DemoLake) -> None:
    # planned fine; evaluating it on the rows fails (the engine raised a bare Exception, not a TableReadError)
    with pytest.raises(TableReadError, match="Cannot cast string") as raised:
        streamproc.read_table(demo_lake_root.table, filter="CAST(carrier AS INT) = 1")
    assert str(demo_lake_root.table) in str(raised.value)
