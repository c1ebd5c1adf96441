"""``streamproc quarantine show``: what a too-strict contract quarantined, counted by violation type, field and
contract version, with samples redacted as the contract's PII policy says, read from a real pipeline's lake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamproc.cli import cli
from streamproc.config import load_config
from streamproc.config.resolve import resolve_contracts
from streamproc.errors import ConfigError
from streamproc.ops.quarantine.rows import QuarantineFilter
from streamproc.ops.quarantine.show import show_quarantine
from tests.fixtures.pipelines import run_cli
from tests.fixtures.quarantine import V1, V2, Lake

pytestmark = pytest.mark.kafka


def _show(config: Path, *args: str) -> dict:
    result = run_cli("quarantine", "show", str(config), "--json", *args)
    assert result.returncode == 0, result.stderr
    (view,) = json.loads(result.stdout)
    return view


def test_show_counts_what_the_contract_refused_by_type_field_and_version(quarantined: Lake, tmp_path: Path) -> None:
    config = quarantined.copy(tmp_path, contract=V1)
    refused = quarantined.of("gbp", "items7", "items50", "malformed")

    view = _show(config, "--samples", "3")

    assert view["rows"] == len(refused) == 22
    assert view["states"] == {"open": 22}
    assert view["by_type"] == {"less_than_equal": 12, "literal_error": 8, "json_invalid": 2}
    assert view["by_field"] == {"items": 12, "currency": 8, "<event>": 2}
    assert sum(p["rows"] for p in view["by_contract_version"]) == 22
    assert {p["contract_version"] for p in view["by_contract_version"]} == {1}
    samples = view["samples"]
    assert len(samples) == 3
    for sample in samples:
        assert (sample["partition"], sample["offset"]) in refused
        assert sample["source"] == f"kafka://{quarantined.bootstrap}/{quarantined.topic}"
        if sample["payload"] is not None:  # PII: the contract masks email, in quarantine as in the table
            assert '"email": "u***@example.com"' in sample["payload"], sample["payload"]


def test_show_filters_by_type_field_time_and_sql(quarantined: Lake, tmp_path: Path) -> None:
    config = load_config(quarantined.copy(tmp_path, contract=V1))
    contracts = resolve_contracts(config)

    def rows(**conditions: object) -> int:
        (view,) = show_quarantine(config, contracts, filter=QuarantineFilter(**conditions))  # type: ignore[arg-type]
        return view.rows

    assert rows(types=("literal_error",)) == 8
    in_partition_0 = {c for c in quarantined.of("items7", "items50") if c[0] == 0}
    assert rows(fields=("items",), where="_partition = 0") == len(in_partition_0)
    assert rows(since=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)) == 0
    assert rows(until=dt.datetime(2999, 1, 1, tzinfo=dt.UTC), types=("json_invalid",)) == 2
    with pytest.raises(ConfigError, match="no_such_column"):
        rows(where="no_such_column = 1")


def test_a_where_the_engine_refuses_is_shown_with_a_caret_in_the_users_own_text(
    quarantined: Lake, tmp_path: Path
) -> None:
    # The condition is planned alone before it joins --since's in one statement: the engine's column was one in
    # that statement ("Column: 97"), past the end of what the user typed.
    config = quarantined.copy(tmp_path, contract=V1)

    syntax = run_cli("quarantine", "show", str(config), "--since", "7d", "--where", "_partition = 0 AND * 2")
    column = run_cli("quarantine", "replay", str(config), "--dry-run", "--since", "7d",
                     "--where", "_partition = 0 AND no_such_column = 1")
    escape = run_cli("quarantine", "show", str(config), "--since", "2999-01-01",
                     "--where", "_partition = 0) OR (_partition = 1")
    commented = _show(config, "--since", "7d", "--where", "_partition = 0 -- the first partition")

    for refused in (syntax, column, escape):
        assert refused.returncode == 2, refused.stderr
        assert "Column:" not in refused.stderr and "TIMESTAMP" not in refused.stderr  # nor --since's SQL
    assert syntax.stderr.splitlines() == [
        "error: cannot filter orders__quarantine: Expected: an expression, found: *",
        "  _partition = 0 AND * 2",
        "                     ^",
    ]
    assert "No field named no_such_column" in column.stderr
    assert column.stderr.splitlines()[-2:] == ["  _partition = 0 AND no_such_column = 1", "                     ^"]
    # a ")" that would have closed the parentheses around it, and bypassed --since: refused where it stands
    assert escape.stderr.splitlines()[-2:] == ["  _partition = 0) OR (_partition = 1", "                ^"]
    assert commented["rows"] == len({c for c in quarantined.of("gbp", "items7", "items50", "malformed") if c[0] == 0})


def test_a_filter_that_matches_nothing_says_the_table_has_rows_and_which_types_occur(
    quarantined: Lake, tmp_path: Path
) -> None:
    # "rows: 0 (none)" for a typo in --type read as an empty quarantine: the table holds 22 rows.
    config = quarantined.copy(tmp_path, contract=V1)

    typo = run_cli("quarantine", "show", str(config), "--type", "literal-error")
    at_currency = _show(config, "--type", "literal-error", "--field", "currency")
    too_late = run_cli("quarantine", "show", str(config), "--type", "literal_error", "--since", "2999-01-01")

    assert typo.returncode == 0, typo.stderr
    assert "rows: 0 match the filters (the table holds 22)" in typo.stdout
    assert ("violation types present (--type takes these): less_than_equal 12, literal_error 8, json_invalid 2"
            in typo.stdout)
    assert "(none)" not in typo.stdout
    assert (at_currency["rows"], at_currency["table_rows"]) == (0, 22)
    assert at_currency["types_present"] == {"literal_error": 8}  # the types at the --field given
    assert too_late.returncode == 0, too_late.stderr
    assert "rows: 0 match the filters (the table holds 22)" in too_late.stdout
    assert "violation types present" not in too_late.stdout  # --since leaves no row to have a type
    assert _show(config)["types_present"] == {}  # without --type, by_type says it


def test_the_versions_over_time_are_the_latest_verdicts_not_the_quarantining_ones(
    quarantined: Lake, tmp_path: Path
) -> None:
    # v1 quarantined all 22 rows; a replay under v2 re-checks each (16 land, 6 still fail): each row now counts under
    # v2, and the heading says so, while --where on the contract_version column still selects by the quarantining v1.
    config = quarantined.copy(tmp_path, contract=V2)
    replayed = run_cli("quarantine", "replay", str(config))
    assert replayed.returncode == 0, replayed.stderr

    text = run_cli("quarantine", "show", str(config), "--status", "all")
    view = _show(config, "--status", "all", "--where", "contract_version = 1")

    assert text.returncode == 0, text.stderr
    assert "by contract version of the latest verdict (a replay's, once re-checked), per " in text.stdout
    assert "v1:" not in text.stdout and "v2: " in text.stdout
    assert view["states"] == {"replayed": 16, "still_failing": 6}
    assert {p["contract_version"] for p in view["by_contract_version"]} == {2}
    assert sum(p["rows"] for p in view["by_contract_version"]) == 22


def test_the_help_shows_the_loop_and_every_filter() -> None:
    runner = CliRunner()
    group = runner.invoke(cli, ["quarantine", "--help"])
    show = runner.invoke(cli, ["quarantine", "show", "--help"])
    replay = runner.invoke(cli, ["quarantine", "replay", "--help"])

    assert (group.exit_code, show.exit_code, replay.exit_code) == (0, 0, 0)
    assert "replay pipeline.yaml --dry-run" in group.output
    for option in ("--since", "--until", "--field", "--type", "--where", "--table", "--json"):
        assert option in show.output and option in replay.output
    assert "--dry-run" in replay.output and "exactly once" in replay.output


CAMEL_CONTRACT = '''
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from contracts import Contract

class LineItem(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)
    unit_price: float = Field(ge=0)

class AppOrder(Contract, name="app_orders", version=1):
    model_config = ConfigDict(alias_generator=to_camel)
    order_id: int
    line_items: list[LineItem]
'''


def test_a_field_filter_that_matches_nothing_says_which_fields_occur_as_the_events_name_them(tmp_path: Path) -> None:
    # Violations are located as the events spell the fields (a contract's aliases): --field line_items, the model's
    # attribute, matched nothing and said only that the table had rows.
    (tmp_path / "app_orders.py").write_text(CAMEL_CONTRACT)
    (tmp_path / "orders.ndjson").write_text(
        '{"orderId": 1, "lineItems": [{"unitPrice": 1}, {"unitPrice": -1}]}\n{"orderId": "two", "lineItems": []}\n'
    )
    config = tmp_path / "pipeline.yaml"
    config.write_text(json.dumps({
        "name": "app", "contract": "app_orders:AppOrder", "source": {"type": "file", "path": "orders.ndjson"},
        "sink": {"table_uri": "lake/app_orders"}, "observability": {"enabled": False},
    }))
    assert run_cli("run", str(config)).returncode == 0

    attribute = run_cli("quarantine", "show", str(config), "--field", "line_items")
    of_type = _show(config, "--field", "line_items", "--type", "int_parsing")

    assert attribute.returncode == 0, attribute.stderr
    assert "rows: 0 match the filters (the table holds 2)" in attribute.stdout
    assert ("violation fields present (--field takes these or a part of one, named as in the events): "
            "lineItems.1.unitPrice 1, orderId 1") in attribute.stdout
    assert of_type["fields_present"] == {"orderId": 1}  # the fields of the --type given
    assert _show(config, "--field", "lineItems")["rows"] == 1
    assert _show(config)["fields_present"] == {}  # without --field, by_field says it
