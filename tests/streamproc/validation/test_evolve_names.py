"""``evolve`` through the real CLI (a file source, real Delta tables) with keys no new column can take: a key that
differs from another only by case (Delta compares column names ignoring case), or a lineage column's name. Such an
event is quarantined with the reason; the run goes on."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from contracts.evolve import RUNTIME_COLUMNS
from streamproc.lineage.columns import LINEAGE_FIELDS
from streamproc.sinks.reader import read_table
from tests.fixtures.pipelines import run_cli

CONTRACT = """
from pydantic import Field
from contracts import Contract

class Signup(Contract, name="signups", mode="evolve"):
    user_id: int = Field(alias="userId")
"""


def test_the_contracts_know_every_lineage_column() -> None:
    assert set(RUNTIME_COLUMNS) == {f.name for f in LINEAGE_FIELDS}


def test_keys_that_cannot_be_columns_are_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    events = [{"userId": i, "extra": i} for i in range(10)]
    events[3] = {"userId": 3, "Extra": 3}  # the table has "extra"
    events[5] = {"userId": 5, "_offset": 5}  # a lineage column
    events[7] = {"userId": 7, "user_id": 7}  # the aliased field's own column
    (tmp_path / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    (tmp_path / "evolving_signups.py").write_text(CONTRACT)
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({
        "name": "signups",
        "contract": "evolving_signups:Signup",
        "source": {"type": "file", "path": "events.ndjson"},
        "sink": {"table_uri": "lake/signups"},
        "observability": {"port": 0},
    }))

    result = run_cli("run", str(config), "--until-caught-up")

    assert result.returncode == 0, result.stdout + result.stderr
    table = read_table(str(tmp_path / "lake" / "signups"))
    assert sorted(table["user_id"].to_pylist()) == [0, 1, 2, 4, 6, 8, 9]
    assert [n for n in table.column_names if not n.startswith("_")] == ["user_id", "extra"]
    quarantine = {row["_offset"]: row for row in read_table(str(tmp_path / "lake" / "signups__quarantine")).to_pylist()}
    assert sorted(quarantine) == [3, 5, 7]
    assert [(v["loc"], v["mode"]) for v in quarantine[3]["violations"]] == [("Extra", "discard_row")]
    assert "the table has 'extra'" in quarantine[3]["violations"][0]["message"]
    assert "'_offset' is a lineage column" in quarantine[5]["violations"][0]["message"]
