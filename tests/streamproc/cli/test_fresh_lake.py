"""The commands that look at a pipeline write nothing to a lake no run has written yet: ``quarantine replay`` before
any run said "landed 0 row(s)" having created ``_contracts`` (and, with lineage, an outbox and an OpenLineage run of
a replay that did nothing). Each command runs as the real CLI, from the repository root, on a file source's config
with lineage enabled through a real file transport."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.fixtures.pipelines import run_cli

CONFIG = "{config}"
"""Where a command takes the pipeline's config."""

COMMANDS = [
    ("quarantine", "show", CONFIG),
    ("quarantine", "replay", CONFIG, "--dry-run"),
    ("quarantine", "replay", CONFIG),
    ("positions", "show", CONFIG),
    ("contracts", "--config", CONFIG, "list"),
    ("lineage", "outbox", CONFIG),
    ("lineage", "backfill", CONFIG),
]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pipeline config whose lake no run has written: its events file beside it, lineage on, events sent to a
    file transport in ``tmp_path/openlineage``."""
    (tmp_path / "events.ndjson").write_text('{"order_id": 1}\n')
    (tmp_path / "openlineage").mkdir()
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "file")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", str(tmp_path / "openlineage" / "events"))
    config = {
        "name": "fresh",
        "contract": "tests.fixtures.quarantine_contracts:OrderV1",
        "source": {"type": "file", "path": "events.ndjson"},
        "sink": {"table_uri": "lake/orders"},
        "lineage": {"enabled": True},
        "observability": {"enabled": False},
    }
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "pipeline.yaml"


def _everything(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(w for w in c if w != CONFIG))
def test_a_command_that_looks_writes_nothing_before_any_run(fresh: Path, command: tuple[str, ...]) -> None:
    before = _everything(fresh.parent)

    result = run_cli(*(str(fresh) if word == CONFIG else word for word in command))

    assert result.returncode == 0, result.stderr
    assert _everything(fresh.parent) == before  # no lake, no _contracts, no outbox, no OpenLineage event


def test_replay_before_any_run_says_there_is_nothing_to_replay(fresh: Path) -> None:
    text = run_cli("quarantine", "replay", str(fresh))
    as_json = run_cli("quarantine", "replay", str(fresh), "--json")

    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("nothing to replay: no quarantine table yet for orders"), text.stdout
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["run_id"] is None and summary["tables"] == [] and summary["no_quarantine"] == ["orders"]
    assert not (fresh.parent / "lake").exists()
