"""A new contract version with the fields of the one before and a ``@migration`` from it: the replay re-judges
what the one before refused (its schema hash is the same; its number and its migration are not). The real CLI in a
subprocess, a file source, the pipeline's own Delta tables."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from streamproc.sinks.reader import read_table
from tests.fixtures.pipelines import run_cli

V1 = """
from contracts import Contract, migration

class ReadingV1(Contract, name="same_fields_readings", version=1, mode="discard_row"):
    sensor: str
    celsius: int
"""

# v2: the same fields; the producer sends fractional degrees, which v2 rounds on the way in
V2 = V1 + """
class ReadingV2(Contract, name="same_fields_readings", version=2, mode="discard_row"):
    sensor: str
    celsius: int

    @migration
    def from_v1(event: dict) -> dict:
        if isinstance(event.get("celsius"), float):
            event["celsius"] = round(event["celsius"])
        return event
"""


def _replay(config: Path, *args: str) -> dict:
    result = run_cli("quarantine", "replay", str(config), "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_version_of_the_same_fields_with_a_migration_replays_what_the_one_before_refused(tmp_path: Path) -> None:
    (tmp_path / "same_fields.py").write_text(V1 + "\nReading = ReadingV1\n")
    events = [{"sensor": "a", "celsius": 20}, {"sensor": "b", "celsius": 21.4}, {"sensor": "c", "celsius": "hot"}]
    (tmp_path / "readings.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    config = tmp_path / "pipeline.yaml"
    config.write_text(json.dumps({
        "name": "same-fields", "contract": "same_fields:Reading",
        "source": {"type": "file", "path": "readings.ndjson"},
        "sink": {"table_uri": "lake/readings"}, "observability": {"enabled": False},
    }))
    assert run_cli("run", str(config)).returncode == 0
    (tmp_path / "same_fields.py").write_text(V2 + "\nReading = ReadingV2\n")

    would = _replay(config, "--dry-run")
    did = _replay(config)
    again = _replay(config)

    # skipped as "refused by this contract version already" before: v2's hash is v1's
    assert (would["landed"], would["still_failing"]) == (did["landed"], did["still_failing"]) == (1, 1)
    assert again["landed"] == again["still_failing"] == 0
    table = read_table(str(tmp_path / "lake" / "readings"), columns=["sensor", "celsius", "_offset"]).to_pylist()
    assert Counter((r["sensor"], r["celsius"], r["_offset"]) for r in table) == Counter({("a", 20, 0): 1,
                                                                                          ("b", 21, 1): 1})
