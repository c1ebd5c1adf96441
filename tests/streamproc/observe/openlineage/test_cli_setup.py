"""``streamproc lineage outbox`` and ``backfill``, and the commands that emit lineage (``run``, ``quarantine
replay``), as a newcomer meets them, on file- and HTTP-source pipelines (no broker) that land real Delta tables:
lineage not enabled in the config, no OpenLineage transport configured. Each command says what is the case rather
than reporting a delivery that never happened (openlineage-python's console fallback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.http_source import write_http_pipeline
from tests.fixtures.lineage import file_transport_env, read_events, streamproc
from tests.fixtures.pipelines import write_file_pipeline
from tests.fixtures.waiting import PortReservation


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


def _no_transport(tmp_path: Path) -> dict[str, str]:
    """No OPENLINEAGE* variable (the helper drops them), and a home without ``~/.openlineage/openlineage.yml``."""
    return {"HOME": str(tmp_path / "home")}


def test_backfill_without_a_transport_refuses_before_sending_and_names_the_options(tmp_path: Path) -> None:
    config = _landed(tmp_path)

    backfill = streamproc("lineage", "backfill", str(config), env=_no_transport(tmp_path))

    assert backfill.returncode == 2, (backfill.stdout, backfill.stderr)
    assert "delivered" not in backfill.stdout
    assert "no OpenLineage transport is configured" in backfill.stderr
    for option in ("OPENLINEAGE_URL", "OPENLINEAGE__TRANSPORT__TYPE", "OPENLINEAGE_CONFIG", "openlineage.yml"):
        assert option in backfill.stderr, option
    # neither openlineage-python's console fallback (its warning, the events) nor a log left in the outbox
    assert "will print events to console" not in backfill.stderr and '"eventType"' not in backfill.stderr
    assert not list((tmp_path / "lake").rglob("*.jsonl"))
    # --dry-run sends nothing, so it needs no transport
    dry = streamproc("lineage", "backfill", str(config), "--dry-run", env=_no_transport(tmp_path))
    assert dry.returncode == 0, dry.stderr
    assert len(dry.stdout.splitlines()) == 4


def test_flush_without_a_transport_refuses_and_leaves_the_events_waiting(tmp_path: Path) -> None:
    config = _landed(tmp_path)
    unwritable = file_transport_env(tmp_path / "no such folder" / "events.jsonl")
    assert streamproc("lineage", "backfill", str(config), "--timeout", "0", env=unwritable).returncode == 1

    flushed = streamproc("lineage", "outbox", str(config), "--flush", env=_no_transport(tmp_path))

    assert flushed.returncode == 2, (flushed.stdout, flushed.stderr)
    assert "no OpenLineage transport is configured" in flushed.stderr
    status = streamproc("lineage", "outbox", str(config), env={})
    assert "pending 4, delivered 0" in status.stdout, status.stdout


@pytest.mark.parametrize("log_level", ["INFO", "WARNING"])
def test_backfill_through_a_console_transport_asked_for_prints_and_says_printed(tmp_path: Path, log_level: str) -> None:
    # The events are openlineage-python's INFO log lines: under --log-level WARNING they were dropped while the
    # summary said "printed".
    config = _landed(tmp_path)

    backfill = streamproc(
        "--log-level", log_level, "lineage", "backfill", str(config),
        env={**_no_transport(tmp_path), "OPENLINEAGE__TRANSPORT__TYPE": "console"},
    )

    assert backfill.returncode == 0, backfill.stderr
    assert "printed 4, waiting in" in backfill.stdout and "delivered" not in backfill.stdout, backfill.stdout
    assert backfill.stderr.count('"eventType"') == 4  # the console transport: one log line per event


@pytest.mark.parametrize("where", ["OPENLINEAGE_CONFIG", "~/.openlineage"])
def test_backfill_delivers_through_the_transport_of_an_openlineage_yml(tmp_path: Path, where: str) -> None:
    config = _landed(tmp_path)
    env = _no_transport(tmp_path)
    file = tmp_path / "ol.yml" if where == "OPENLINEAGE_CONFIG" else tmp_path / "home" / ".openlineage" / "openlineage.yml"
    file.parent.mkdir(parents=True, exist_ok=True)
    transport = {"type": "file", "log_file_path": str(tmp_path / "ol.jsonl"), "append": True}
    file.write_text(yaml.safe_dump({"transport": transport}))
    if where == "OPENLINEAGE_CONFIG":
        env["OPENLINEAGE_CONFIG"] = str(file)

    backfill = streamproc("lineage", "backfill", str(config), env=env)

    assert backfill.returncode == 0, backfill.stderr
    assert "delivered 4, waiting in" in backfill.stdout, backfill.stdout
    assert [e["eventType"] for e in read_events(tmp_path / "ol.jsonl")] == ["START", *["RUNNING"] * 3]


def test_backfill_to_an_openlineage_url_that_is_down_is_configured_and_keeps_the_events(tmp_path: Path) -> None:
    """``OPENLINEAGE_URL`` names openlineage-python's http transport: a catalog that is down is not a missing
    transport; the events wait in the outbox."""
    config = _landed(tmp_path)
    with PortReservation() as down:  # bound, never listening: connection refused
        env = {**_no_transport(tmp_path), "OPENLINEAGE_URL": f"http://127.0.0.1:{down.port}"}
        backfill = streamproc("lineage", "backfill", str(config), "--timeout", "0", env=env)

    assert backfill.returncode == 1, (backfill.stdout, backfill.stderr)
    assert "delivered 0, waiting in" in backfill.stdout and backfill.stdout.rstrip().endswith(": 4"), backfill.stdout


def _refused(result: Any) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "no OpenLineage transport is configured" in result.stderr
    assert "will print events to console" not in result.stderr and '"eventType"' not in result.stderr


def test_a_run_with_lineage_but_no_transport_is_refused_before_anything_lands(tmp_path: Path) -> None:
    config = write_file_pipeline(
        tmp_path, events=30, name="orders-file", observability={"enabled": False}, lineage={"enabled": True}
    )

    _refused(streamproc("run", str(config), env=_no_transport(tmp_path)))
    assert not (tmp_path / "lake").exists(), "no table, no outbox"


def test_an_http_run_with_lineage_but_no_transport_is_refused_before_it_listens(tmp_path: Path) -> None:
    pipeline = write_http_pipeline(tmp_path, routes={})
    pipeline.config.write_text(yaml.safe_dump({**pipeline.document, "lineage": {"enabled": True}}, sort_keys=False))

    _refused(streamproc("run", str(pipeline.config), "--until-caught-up", env=_no_transport(tmp_path)))
    assert not pipeline.wal.exists() and not pipeline.lake.exists()
    # with a transport, the run (of an empty write-ahead log) is one OpenLineage run, through the same observers
    ran = streamproc(
        "run", str(pipeline.config), "--until-caught-up", env={**_no_transport(tmp_path), **file_transport_env(
            tmp_path / "ol.jsonl")}
    )
    assert ran.returncode == 0, ran.stderr
    assert [e["eventType"] for e in read_events(tmp_path / "ol.jsonl")] == ["START", "COMPLETE"]


def test_a_quarantine_replay_with_lineage_but_no_transport_is_refused_having_written_nothing(tmp_path: Path) -> None:
    config = write_file_pipeline(
        tmp_path, events=30, name="orders-file", observability={"enabled": False}, lineage={"enabled": True}
    )
    with (tmp_path / "orders.ndjson").open("ab") as data:
        data.write(b"not json\n")
    ran = streamproc("run", str(config), env=file_transport_env(tmp_path / "run.jsonl"))
    assert ran.returncode == 0, ran.stderr
    lake = sorted(p.name for p in (tmp_path / "lake").iterdir())

    _refused(streamproc("quarantine", "replay", str(config), env=_no_transport(tmp_path)))
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == lake, "no resolutions table"
    # with a transport, the replay is an OpenLineage run of its own job
    replayed = streamproc("quarantine", "replay", str(config), env=file_transport_env(tmp_path / "replay.jsonl"))
    assert replayed.returncode == 0, replayed.stderr
    events = read_events(tmp_path / "replay.jsonl")
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["job"]["name"] for e in events} == {"orders-file.quarantine_replay"}


def test_backfill_of_a_lake_it_cannot_read_says_error_in_one_line_and_exits_1(tmp_path: Path) -> None:
    """A ``_loads`` log that is not valid JSON (a torn copy, a hand edit): the same ``error:`` line every command prints,
    exit 1 (the lake could not be read), no traceback."""
    config = _landed(tmp_path)
    log = sorted((tmp_path / "lake" / "_loads" / "_delta_log").glob("*.json"))[-1]
    log.write_text("{not json\n")

    backfill = streamproc("lineage", "backfill", str(config), "--dry-run", env=_no_transport(tmp_path))

    assert backfill.returncode == 1, (backfill.stdout, backfill.stderr)
    assert backfill.stderr.startswith("error: "), backfill.stderr
    assert "Traceback" not in backfill.stderr and "Error: " not in backfill.stderr, backfill.stderr
