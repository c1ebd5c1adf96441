"""``streamproc lineage outbox`` and ``backfill`` as a newcomer meets them, on a file-source pipeline (no broker)
that lands real Delta tables: lineage not enabled in the config, no OpenLineage transport configured. Each command
says what is the case rather than reporting a delivery that never happened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.lineage import file_transport_env, read_events, streamproc
from tests.fixtures.pipelines import write_file_pipeline


def _landed(tmp_path: Path, env: dict[str, str] | None = None, **lineage: Any) -> Path:
    """A file-source pipeline run to the end (three loads into ``tmp_path/lake/orders``) with ``env`` added to a
    clean environment; returns its config."""
    config = write_file_pipeline(
        tmp_path,
        events=30,
        name="orders-file",
        batch={"max_rows": 10},
        observability={"enabled": False},
        lineage=lineage,
    )
    ran = streamproc("run", str(config), env=env or {})
    assert ran.returncode == 0, ran.stderr
    return config


def test_the_outbox_of_a_pipeline_without_lineage_says_lineage_is_not_enabled(tmp_path: Path) -> None:
    config = _landed(tmp_path)

    for flush in ((), ("--flush",)):
        status = streamproc("lineage", "outbox", str(config), *flush, env={})

        assert status.returncode == 2, (status.stdout, status.stderr)
        assert "lineage is not enabled for this pipeline" in status.stderr
        assert "lineage: {enabled: true}" in status.stderr and str(config) in status.stderr
        assert "delivered" not in status.stdout + status.stderr
    assert not (tmp_path / "lake" / "_lineage_outbox").exists(), "asking created no outbox"


def test_what_a_backfill_left_in_the_outbox_of_a_pipeline_without_lineage_is_shown_and_flushed(
    tmp_path: Path,
) -> None:
    """``backfill`` works without ``lineage: {enabled: true}``; what it could not deliver waits in the outbox, which
    ``lineage outbox`` then lists (noting that lineage is off) and ``--flush`` delivers."""
    config = _landed(tmp_path)
    unwritable = file_transport_env(tmp_path / "no such folder" / "events.jsonl")  # every attempt fails

    backfill = streamproc("lineage", "backfill", str(config), "--timeout", "0", env=unwritable)
    assert backfill.returncode == 1, (backfill.stdout, backfill.stderr)
    status = streamproc("lineage", "outbox", str(config), env={})
    assert status.returncode == 0, status.stderr
    assert "lineage is not enabled for this pipeline" in status.stdout
    assert "pending 4, delivered 0" in status.stdout, status.stdout  # a START and a RUNNING per load

    flushed = streamproc("lineage", "outbox", str(config), "--flush", env=file_transport_env(tmp_path / "ol.jsonl"))
    assert flushed.returncode == 0, flushed.stderr
    assert [e["eventType"] for e in read_events(tmp_path / "ol.jsonl")] == ["START", *["RUNNING"] * 3]
    after = streamproc("lineage", "outbox", str(config), env={})
    assert after.returncode == 2, "a delivered outbox of a pipeline without lineage is again nothing to show"


@pytest.mark.parametrize("flush", [(), ("--flush",)])
def test_the_empty_outbox_of_a_pipeline_with_lineage_is_still_shown(tmp_path: Path, flush: tuple[str, ...]) -> None:
    env = file_transport_env(tmp_path / "ol.jsonl")
    config = _landed(tmp_path, env, enabled=True)

    status = streamproc("lineage", "outbox", str(config), *flush, env=env)

    assert status.returncode == 0, status.stderr
    assert "not enabled" not in status.stdout + status.stderr
