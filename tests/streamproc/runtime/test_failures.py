"""Failure survival of ``streamproc run``: the real CLI in subprocesses, the real broker, real Delta tables.

Every test ends with :func:`assert_exactly_once`: each valid event once in the table, each invalid one once in the
quarantine table, ``_loads`` totals equal to the tables, every ``_load_id`` in ``_loads``.

CI runs the short versions; ``make chaos`` (``STREAMPROC_CHAOS=1``) scales the counts up.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deltalake import DeltaTable

from tests.fixtures.exactly_once import Stream, assert_exactly_once, known_stream, split
from tests.fixtures.kafka import broker_module
from tests.fixtures.pipelines import (
    REPO,
    PipelineFiles,
    committed_and_end_offsets,
    new_topic,
    produce,
    run_async,
    run_cli,
    start_cli,
    stop,
    wait_for_log,
    write_pipeline,
)
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka

CHAOS = os.environ.get("STREAMPROC_CHAOS") == "1"


def scaled(ci: int, chaos: int) -> int:
    """``ci`` in CI, ``chaos`` under ``make chaos``."""
    return chaos if CHAOS else ci


def _configure(files: PipelineFiles, *, source: dict[str, Any] | None = None, **top: Any) -> PipelineFiles:
    """Change the pipeline config written by ``write_pipeline``: source fields and top-level sections."""
    config = yaml.safe_load(files.config.read_text())
    config["source"].update(source or {})
    for key, value in top.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    files.config.write_text(yaml.safe_dump(config))
    return files


class _Producer:
    """Produces a known stream in parts, remembering each event's (partition, offset)."""

    def __init__(self, bootstrap: str, topic: str, stream: Stream, *, partitions: int, parts: int) -> None:
        self.bootstrap, self.topic, self.stream, self.partitions = bootstrap, topic, stream, partitions
        self.part_size = -(-len(stream.payloads) // parts)
        self.coordinates: list[tuple[int, int]] = []

    @property
    def done(self) -> bool:
        return len(self.coordinates) == len(self.stream.payloads)

    def next_part(self) -> None:
        """Produce the next part (nothing once all is produced)."""
        part = self.stream.payloads[len(self.coordinates) : len(self.coordinates) + self.part_size]
        if part:
            self.coordinates += run_async(produce, self.bootstrap, self.topic, part, partitions=self.partitions)

    def rest(self) -> None:
        while not self.done:
            self.next_part()

    def expected(self) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
        """Coordinates of the valid and of the invalid events produced."""
        return split(self.stream, self.coordinates)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def _wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _logged(log: Path, text: str, *, timeout: float) -> bool:
    """Whether ``text`` appears in ``log`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def _landed(files: PipelineFiles) -> int:
    """Rows in the table and the quarantine table now (0 before they exist)."""
    try:
        return sum(DeltaTable(str(p)).count() for p in (files.table, files.quarantine))
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def test_sigkill_at_random_moments_lands_every_event_exactly_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    kills = scaled(20, 100)
    stream = known_stream(scaled(30_000, 300_000))
    topic = new_topic("crash-loop")
    # Small batches: a load is mostly its three commits, so a kill while landing often falls between two of them.
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 50, "max_linger_seconds": 0.3})
    # Static membership: a restarted member takes its partitions back at once instead of waiting for the killed
    # one's session to expire (what a StatefulSet pod does). Maintenance every 2 s: kills also fall in compactions
    # and vacuums (one writer only, so a zero retention is safe here).
    _configure(
        files,
        source={"session_timeout_seconds": 6, "group_instance_id": "crash-loop-0"},
        maintenance={"interval_seconds": 2, "compact_min_files": 40, "vacuum_interval_seconds": 5,
                     "vacuum_retention_hours": 0},
        observability={"port": 0},
    )
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=3, parts=4)
    producer.next_part()
    rng = random.Random(20)

    for round_ in range(kills):
        if round_ % (kills // 3) == 0:
            producer.next_part()  # more events arrive while the consumer keeps crashing
        log = tmp_path / f"run-{round_}.log"
        process = start_cli("run", str(files.config), log=log)
        try:
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0.2, 2.5))  # during start-up, joining the group, or reading the Delta log
            else:
                _wait_until(lambda: "partitions assigned" in log.read_text(errors="replace"), timeout=30,
                            what="the assignment")
                _logged(log, "load ", timeout=5)
                time.sleep(rng.uniform(0.0, 1.5))  # while landing (unless it caught up already)
        finally:
            _kill(process)
    producer.rest()

    # The rest with bigger batches: positions do not depend on how a restart batches.
    _configure(files, batch={"max_rows": 2_000})
    final = run_cli("run", str(files.config), "--until-caught-up", timeout=scaled(300, 900))
    assert final.returncode == 0, final.stderr[-3000:]
    valid, invalid = producer.expected()
    counts = assert_exactly_once(files.table, valid=valid, invalid=invalid)
    assert counts["table"] == stream.valid_count
    logs = [(tmp_path / f"run-{i}.log").read_text(errors="replace") for i in range(kills)]
    landing = sum(" load " in log for log in logs)
    # Under a heavy machine load fewer rounds get as far as landing; a quarter still makes the point.
    assert landing >= kills // 4, f"only {landing} of {kills} kills hit a landing pipeline"
    assert "maintenance: compact" in "".join(logs) + final.stderr, "no compaction ran during the crash loop"


def test_three_consumers_one_killed_one_added_land_every_event_exactly_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    parts = scaled(12, 40)
    stream = known_stream(scaled(12_000, 200_000))
    topic = new_topic("scale-out")
    run_async(produce, kafka_bootstrap, topic, [], partitions=6)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 100, "max_linger_seconds": 0.5})
    # The member owning partition 0 compacts while the others append (compaction does not conflict with appends).
    _configure(
        files,
        source={"session_timeout_seconds": 6},
        maintenance={"interval_seconds": 2, "compact_min_files": 40},
        observability={"port": 0},
    )
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=6, parts=parts)
    logs = [tmp_path / f"member-{i}.log" for i in range(4)]
    members = [start_cli("run", str(files.config), log=log) for log in logs[:3]]
    try:
        _wait_until(lambda: all(len(_assignment(log)) == 2 for log in logs[:3]), timeout=60, what="a 3-way split")
        for part in range(parts):
            producer.next_part()
            if part == parts // 3:
                members[1].kill()  # no goodbye: the group notices when its session expires (6 s)
            if part == parts // 2:
                members.append(start_cli("run", str(files.config), log=logs[3]))
            time.sleep(0.5)
        _wait_until(lambda: _landed(files) >= len(stream.payloads), timeout=scaled(180, 900), what="every event")
        for i in (0, 2, 3):
            assert stop(members[i], signal.SIGTERM) == 0, logs[i].read_text()[-3000:]
    finally:
        for member in members:
            _kill(member)

    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    runs = set(read_table(str(files.loads))["run_id"].to_pylist())
    assert len(runs) == 4, "each of the four members landed loads"
    assert len(_assignment(logs[3])) >= 2, "the added member took over partitions"
    assert "maintenance: compact" in "".join(log.read_text(errors="replace") for log in logs)
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 6)
    assert committed == ends


def _assignment(log: Path) -> set[str]:
    """The partitions of the member's newest assignment, from its log (``topic[p]`` strings)."""
    if not log.exists():
        return set()
    lines = [line for line in log.read_text(errors="replace").splitlines() if "partitions assigned: " in line]
    if not lines:
        return set()
    listed = lines[-1].split("partitions assigned: ", 1)[1].split(" (from the Delta log", 1)[0]
    return {p.strip() for p in listed.split(",") if p.strip()}


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A broker of this test's own, to stop and start without disturbing the session's."""
    broker = broker_module.LocalBroker(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_the_consumer_waits_out_a_broker_restart_and_resumes(own_broker: Any, tmp_path: Path) -> None:
    bootstrap = own_broker.bootstrap_servers
    stream = known_stream(scaled(6_000, 60_000))
    topic = new_topic("broker-restart")
    files = write_pipeline(tmp_path, bootstrap, topic=topic, batch={"max_rows": 200, "max_linger_seconds": 0.5})
    _configure(files, source={"session_timeout_seconds": 10}, observability={"port": 0})
    producer = _Producer(bootstrap, topic, stream, partitions=3, parts=2)
    producer.next_part()
    log = tmp_path / "run.log"
    process = start_cli("run", str(files.config), log=log)
    try:
        # Mid-run: a third of the first half landed, the rest is being fetched and landed.
        _wait_until(lambda: _landed(files) >= len(producer.coordinates) // 3, timeout=60, what="a first load")
        own_broker.stop()
        time.sleep(scaled(5, 20))  # the consumer keeps running without a broker
        assert process.poll() is None, log.read_text()[-3000:]
        own_broker.start()
        producer.rest()
        _wait_until(lambda: _landed(files) >= len(stream.payloads), timeout=120, what="the second half")
        assert stop(process, signal.SIGTERM) == 0, log.read_text()[-3000:]
    finally:
        _kill(process)

    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, bootstrap, files.group, topic, 3)
    assert committed == ends


# Root ignores permission bits (CAP_DAC_OVERRIDE), so chmod alone would not make the lake unwritable for a consumer
# running as root. The consumer runs without that capability instead, as a container's non-root user would, and the
# test removes write permission from the lake's directories: delta-rs then really gets EACCES.
WITHOUT_DAC_OVERRIDE = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")


def _start_unprivileged(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [*WITHOUT_DAC_OVERRIDE, sys.executable, "-m", "streamproc.cli", "run", str(config)],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _set_writable(lake: Path, writable: bool) -> None:
    for directory in [lake, *(p for p in lake.rglob("*") if p.is_dir())]:
        directory.chmod(0o755 if writable else 0o555)


def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
def test_unwritable_storage_is_retried_with_backoff_without_committing_offsets(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    stream = known_stream(scaled(3_000, 30_000))
    topic = new_topic("storage")
    port = _free_port()
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 200, "max_linger_seconds": 0.5})
    _configure(files, observability={"host": "127.0.0.1", "port": port}, maintenance={"enabled": False})
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=2, parts=2)
    producer.next_part()
    log = tmp_path / "run.log"
    process = _start_unprivileged(files.config, log)
    try:
        _wait_until(lambda: _landed(files) >= len(producer.coordinates), timeout=60, what="the first half")
        committed_before, _ = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 2)
        _set_writable(files.lake, False)
        try:
            producer.rest()
            wait_for_log(log, "storage unavailable (attempt 3)", timeout=60)
            status, body = _readyz(port)
            assert status == 503 and body["checks"]["storage_writable"] is False, body
            committed_during, _ = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 2)
            assert committed_during == committed_before, "offsets were committed while nothing could land"
            assert _landed(files) == len(stream.payloads) // 2
            assert process.poll() is None, "the consumer gave up instead of retrying"
        finally:
            _set_writable(files.lake, True)
        _wait_until(lambda: _landed(files) >= len(stream.payloads), timeout=90, what="landing after the outage")
        _wait_until(lambda: _readyz(port)[0] == 200, timeout=30, what="ready again")
        assert stop(process, signal.SIGTERM) == 0, log.read_text()[-3000:]
    finally:
        _kill(process)

    output = log.read_text()
    assert "Permission denied" in output  # the real error, in the retry warning
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 2)
    assert committed == ends


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sigterm_flushes_commits_and_hands_partitions_over_without_a_session_timeout(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    stream = known_stream(2_000)
    topic = new_topic("graceful")
    run_async(produce, kafka_bootstrap, topic, [], partitions=6)
    # A long session: had the leaving member not said goodbye, the other would wait 60 s for its partitions.
    # A batch only the shutdown flush closes: linger and size are out of reach.
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 100_000, "max_linger_seconds": 600})
    _configure(files, source={"session_timeout_seconds": 60}, observability={"port": 0})
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=6, parts=2)
    logs = [tmp_path / "leaving.log", tmp_path / "staying.log"]
    leaving = start_cli("run", str(files.config), log=logs[0])
    _wait_until(lambda: len(_assignment(logs[0])) == 6, timeout=60, what="the first member's assignment")
    staying = start_cli("run", str(files.config), log=logs[1])
    try:
        _wait_until(lambda: [len(_assignment(log)) for log in logs] == [3, 3], timeout=90, what="a 3/3 split")
        producer.next_part()
        time.sleep(2.0)  # fetched into both members' open batches (the consumer polls every 0.5 s)
        sigterm_at = time.monotonic()
        leaving.send_signal(signal.SIGTERM)
        assert leaving.wait(timeout=25) == 0, logs[0].read_text()[-3000:]
        left_after = time.monotonic() - sigterm_at
        _wait_until(lambda: len(_assignment(logs[1])) == 6, timeout=30, what="the partitions handed over")
        handed_over_after = time.monotonic() - sigterm_at
        producer.rest()
        time.sleep(2.0)
        assert stop(staying, signal.SIGTERM) == 0, logs[1].read_text()[-3000:]
    finally:
        _kill(leaving)
        _kill(staying)

    assert left_after < 10, f"the member took {left_after:.1f}s to flush, commit and leave"
    assert handed_over_after < 15, f"partitions moved {handed_over_after:.1f}s after SIGTERM (session: 60 s)"
    assert "(shutdown)" in logs[0].read_text(), "the leaving member flushed its open batch"
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 6)
    assert committed == ends
