"""What a newcomer's mistakes get from ``streamproc run``: one line on stderr naming the problem and what to do, a
non-zero exit, no traceback, and no table created when the run could not start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.pipelines import REPO, run_cli, write_file_pipeline


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_file_source_naming_a_directory_says_so_and_creates_nothing(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=1, name="folder", source={"type": "file", "path": "events"})
    (tmp_path / "events").mkdir()

    result = run_cli("run", str(config))

    assert result.returncode == 2, result.stderr
    assert _error_lines(result.stderr) == [
        f"error: source.path {tmp_path / 'events'} is a directory: a file source reads one file; name a file in it"
    ]
    assert not (tmp_path / "lake").exists()


def test_a_table_uri_below_a_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "lake").write_text("not a folder")
    config = write_file_pipeline(tmp_path, events=1, name="blocked")

    result = run_cli("run", str(config))

    assert result.returncode == 1, result.stderr
    table = tmp_path / "lake" / "orders"
    assert _error_lines(result.stderr) == [
        f"error: sink.table_uri {table} cannot be created: {tmp_path / 'lake'} is a file, not a folder; "
        "point sink.table_uri at a folder this user can write"
    ]
    assert "serving /metrics" not in result.stderr  # refused before the endpoint or the source were opened


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a folder whatever its mode")
def test_a_table_uri_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir(mode=0o555)
    config = write_file_pipeline(tmp_path, events=1, name="readonly")

    result = run_cli("run", str(config))

    assert result.returncode == 1, result.stderr
    (line,) = _error_lines(result.stderr)
    assert f"this user may not write in {tmp_path / 'lake'}" in line
    assert list((tmp_path / "lake").iterdir()) == []


def test_a_taken_http_source_port_ends_the_run_by_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "web.yaml"
        config.write_text(yaml.safe_dump({
            "name": "web",
            "contract": "streamproc.sources.http.spec:SegmentEvent",
            "source": {"type": "http", "host": "127.0.0.1", "port": port, "wal_dir": "wal", "write_keys": ["k"]},
            "sink": {"table_uri": "lake/events"},
            "observability": {"port": 0},
        }))

        result = run_cli("run", str(config))

    assert result.returncode == 1, result.stderr
    assert _error_lines(result.stderr) == [
        f"error: cannot listen for the HTTP source on 127.0.0.1:{port}: Address already in use; "
        "give this pipeline another source.port (0 picks a free one)"
    ]
    assert "stopped by error" in result.stderr, result.stderr  # not "by signal": nothing sent one


def test_a_lineage_backfill_dry_run_before_any_run_says_there_is_nothing_and_creates_nothing(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=1, name="fresh")

    result = run_cli("lineage", "backfill", str(config), "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the JSON lines: none
    assert "no loads of this pipeline in the lake: nothing to rebuild" in result.stderr
    assert not (tmp_path / "lake").exists()


def test_replaying_a_directory_says_so_before_reaching_a_broker(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()

    # no broker listens on port 1: the dataset is checked first, so the answer is about the folder
    result = run_cli("replay", str(tmp_path / "exports"), "--topic", "t", "--bootstrap-servers", "127.0.0.1:1")

    assert result.returncode == 2, result.stderr
    (line,) = _error_lines(result.stderr)
    assert line.startswith(f"error: {tmp_path / 'exports'} is a directory: name one file in it (one of .ndjson, "), line


def test_a_wrong_log_level_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=1, name="loud")
    env = {**os.environ, "STREAMPROC_LOG_LEVEL": "loud"}

    result = subprocess.run([sys.executable, "-m", "streamproc.cli", "run", str(config)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--log-level' (env var: 'STREAMPROC_LOG_LEVEL'): 'loud' is not one of" in result.stderr
    assert not (tmp_path / "lake").exists()


def test_an_empty_file_lands_nothing_and_says_so(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=0, name="empty")
    (tmp_path / "orders.ndjson").write_bytes(b"")

    result = run_cli("run", str(config))

    assert result.returncode == 0, result.stderr  # an export may be empty: not an error, but not silent either
    assert f"WARNING streamproc.sources.file: {tmp_path / 'orders.ndjson'} is empty: no events to land" in result.stderr


def test_replay_without_a_broker_names_the_option_and_the_variable(tmp_path: Path) -> None:
    (tmp_path / "events.ndjson").write_text('{"a": 1}\n')
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}

    result = subprocess.run([sys.executable, "-m", "streamproc.cli", "replay", str(tmp_path / "events.ndjson"),
                             "--topic", "t"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2, result.stderr
    assert "Missing option '--bootstrap-servers' (env var: 'KAFKA_BOOTSTRAP_SERVERS')" in result.stderr


def test_a_lineage_backfill_whose_filters_match_no_load_says_so(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=2, name="filtered")
    assert run_cli("run", str(config)).returncode == 0

    result = run_cli("lineage", "backfill", str(config), "--dry-run", "--run-id", "no-such-run")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "no loads of this pipeline match --run-id: nothing to rebuild" in result.stderr


def test_lineage_backfill_since_takes_the_times_quarantine_show_takes(tmp_path: Path) -> None:
    config = write_file_pipeline(tmp_path, events=2, name="since")
    assert run_cli("run", str(config)).returncode == 0

    recent = run_cli("lineage", "backfill", str(config), "--dry-run", "--since", "1h")
    future = run_cli("lineage", "backfill", str(config), "--dry-run", "--since", "2999-01-01T00:00+02:00")

    assert recent.returncode == 0, recent.stderr
    assert recent.stdout.count('"eventType"') >= 2  # the run's START and its load's RUNNING: loaded within the hour
    assert future.returncode == 0, future.stderr
    assert (future.stdout, "no loads of this pipeline match --since: nothing to rebuild" in future.stderr) == ("", True)
