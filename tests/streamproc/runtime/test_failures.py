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
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from tests.fixtures.exactly_once import Stream, assert_exactly_once, known_stream, split
from tests.fixtures.kafka import running_broker
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
    wait_for_output,
    write_pipeline,
)
from tests.fixtures.ops import metrics_port
from tests.fixtures.waiting import LoggedProcess, output_tail, wait_until
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


def _variant(files: PipelineFiles, name: str, **top: Any) -> Path:
    """A copy of the pipeline's config named ``name`` with top-level sections changed (same group, same lake)."""
    config = yaml.safe_load(files.config.read_text())
    for key, value in top.items():
        config[key] = {**config.get(key, {}), **value}
    path = files.config.with_name(name)
    path.write_text(yaml.safe_dump(config))
    return path


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def _landed(files: PipelineFiles) -> int:
    """Rows in the table and the quarantine table now (0 before they exist)."""
    total = 0
    for path in (files.table, files.quarantine):
        try:
            total += DeltaTable(str(path)).count()
        except TableNotFoundError:
            pass
    return total


def _compacted(files: PipelineFiles) -> bool:
    """Whether a compaction (delta-rs ``OPTIMIZE``) was committed to the table, its quarantine table or ``_loads``."""
    for path in (files.table, files.quarantine, files.loads):
        try:
            if any(commit.get("operation") == "OPTIMIZE" for commit in DeltaTable(str(path)).history()):
                return True
        except TableNotFoundError:
            pass
    return False


_LOAD_LINE = re.compile(r"\bload ([0-9a-f]{12}) \(")


def _load_ids(member: LoggedProcess) -> set[str]:
    """The (12-character) ids of the loads ``member`` logged, landed or found already landed."""
    return set(_LOAD_LINE.findall(member.output()))


def _loads_of(member: LoggedProcess, files: PipelineFiles) -> list[dict[str, Any]]:
    """The ``_loads`` rows of the loads ``member`` landed (by the load ids of its log), in commit order."""
    ids = _load_ids(member)
    if not ids:
        return []
    try:
        loads = read_table(str(files.loads)).to_pylist()
    except TableNotFoundError:
        return []
    return sorted((load for load in loads if load["load_id"][:12] in ids), key=lambda load: load["committed_at"])


_ASSIGNMENT_LINE = re.compile(r"partitions (assigned|revoked|lost): (.*?)(?: \(from the Delta log|$)", re.M)


def _assignment(member: LoggedProcess) -> set[int]:
    """The partitions the member owns now, from its log: every assignment added, every revocation taken away (an
    eager rebalance revokes and assigns everything; a cooperative one only the partitions that move)."""
    owned: set[int] = set()
    for change, listed in _ASSIGNMENT_LINE.findall(member.output()):
        partitions = {int(p.strip().rsplit("[", 1)[1].rstrip("]")) for p in listed.split(",") if p.strip()}
        owned = owned | partitions if change == "assigned" else owned - partitions
    return owned


def _wait_for_split(members: Sequence[LoggedProcess], partitions: int, what: str) -> list[set[int]]:
    """Wait until the newest assignments of ``members`` split the ``partitions`` evenly among them; returns them."""

    def split_evenly() -> list[set[int]] | None:
        owned = [_assignment(member) for member in members]
        share = partitions // len(members)
        every = set().union(*owned)
        if all(len(o) == share for o in owned) and every == set(range(partitions)):
            return owned
        return None

    return wait_until(split_evenly, what, watch=members)


def test_sigkill_at_random_moments_lands_every_event_exactly_once(
    kafka_bootstrap: str, kafka_client: str, tmp_path: Path
) -> None:
    kills = scaled(20, 100)
    stream = known_stream(scaled(30_000, 300_000))
    topic = new_topic("crash-loop")
    # Small batches: a load is mostly its three commits, so a kill while landing often falls between two of them.
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 50, "max_linger_seconds": 0.3},
                           client=kafka_client)
    # Static membership: a restarted member takes its partitions back at once instead of waiting for the killed
    # one's session to expire (what a StatefulSet pod does). Maintenance every 2 s: kills also fall in compactions
    # and vacuums (one writer only, so a zero retention is safe here).
    _configure(
        files,
        source={"session_timeout_seconds": 6, "group_instance_id": "crash-loop-0"},
        maintenance={"interval_seconds": 2, "compact_min_files": 20, "vacuum_interval_seconds": 5,
                     "vacuum_retention_hours": 0},
        observability={"port": 0},
    )
    # A part of the stream arrives before each round: every round has events to land, however fast the last one was.
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=3, parts=kills + 1)
    rng = random.Random(20)

    for round_ in range(kills):
        producer.next_part()
        process = start_cli("run", str(files.config), log=tmp_path / f"run-{round_}.log")
        try:
            if round_ == kills // 2 and not _compacted(files):
                # Nothing compacted yet, and this round lands a whole part (more than 20 loads, a file each in
                # _loads): its maintenance compacts before the kill, so the crash loop has compacted at least once.
                wait_until(lambda: _compacted(files), "a compaction during the crash loop", watch=[process])
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0.2, 2.5))  # a kill during start-up, joining the group, or reading the Delta log
            else:
                wait_until(lambda: _load_ids(process), f"round {round_}'s first load", watch=[process])
                time.sleep(rng.uniform(0.0, 1.5))  # a kill while landing (unless it caught up already)
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


def test_three_consumers_one_killed_one_added_land_every_event_exactly_once(
    kafka_bootstrap: str, kafka_client: str, tmp_path: Path
) -> None:
    parts = scaled(12, 40)
    stream = known_stream(scaled(12_000, 200_000))
    topic = new_topic("scale-out")
    run_async(produce, kafka_bootstrap, topic, [], partitions=6)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 100, "max_linger_seconds": 0.5},
                           client=kafka_client)
    # The member owning partition 0 compacts while the others append (compaction does not conflict with appends).
    _configure(
        files,
        source={"session_timeout_seconds": 6},
        maintenance={"interval_seconds": 2, "compact_min_files": 40},
        observability={"port": 0},
    )
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=6, parts=parts)
    members = [start_cli("run", str(files.config), log=tmp_path / f"member-{i}.log") for i in range(3)]
    live = list(members)
    try:
        _wait_for_split(live, 6, "a 3-way split")
        for part in range(parts):
            producer.next_part()
            if part == parts // 3:
                # Killed once it has landed: the others take over partitions a dead member has written to.
                wait_until(lambda: _loads_of(members[1], files), "member 1's first load", watch=live)
                members[1].kill()  # no goodbye: the group notices when its session expires (6 s)
                members[1].wait(timeout=30)
                live.remove(members[1])
            if part == parts // 2:
                # The parts produced since the kill wait in member 1's partitions until its session expires.
                _wait_for_split(live, 6, "members 0 and 2 to take member 1's partitions")
                members.append(start_cli("run", str(files.config), log=tmp_path / "member-3.log"))
                live.append(members[3])
                # The rest is produced only now: member 3 owns two partitions of it, so it must land loads.
                _wait_for_split(live, 6, "a 3-way split with the added member")
        wait_until(lambda: _landed(files) >= len(stream.payloads), "every event", timeout=scaled(300, 900), watch=live)
        # More than 40 small files per table (a load is one file in _loads): the maintainer compacts in time.
        wait_until(lambda: _compacted(files), "a compaction by the member owning partition 0", watch=live)
        for member in live:
            assert stop(member, signal.SIGTERM) == 0, output_tail(member)
    finally:
        for member in members:
            _kill(member)

    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    runs = []
    for n, member in enumerate(members):
        landed = _loads_of(member, files)
        assert landed, f"member {n} landed no load"
        assert len({load["run_id"] for load in landed}) == 1, f"member {n}'s loads name one run"
        runs.append(landed[0]["run_id"])
    every_run = set(read_table(str(files.loads))["run_id"].to_pylist())
    assert len(set(runs)) == 4 and set(runs) == every_run, "each of the four members landed loads, in runs of its own"
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 6)
    assert committed == ends


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A broker of this test's own, to stop and start without disturbing the session's."""
    with running_broker(tmp_path / "kafka") as broker:
        yield broker


def test_the_consumer_waits_out_a_broker_restart_and_resumes(own_broker: Any, kafka_client: str, tmp_path: Path) -> None:
    bootstrap = own_broker.bootstrap_servers
    stream = known_stream(scaled(6_000, 60_000))
    topic = new_topic("broker-restart")
    files = write_pipeline(tmp_path, bootstrap, topic=topic, batch={"max_rows": 200, "max_linger_seconds": 0.5},
                           client=kafka_client)
    _configure(files, source={"session_timeout_seconds": 10}, observability={"port": 0})
    producer = _Producer(bootstrap, topic, stream, partitions=3, parts=2)
    producer.next_part()
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        # Mid-run: a third of the first half landed, the rest is being fetched and landed.
        wait_until(lambda: _landed(files) >= len(producer.coordinates) // 3, "a first load", watch=[process])
        own_broker.stop()
        # The outage: no condition to wait for, its length is the scenario. The consumer must outlive it.
        time.sleep(scaled(5, 20))
        assert process.poll() is None, output_tail(process)
        own_broker.start()
        producer.rest()
        wait_until(lambda: _landed(files) >= len(stream.payloads), "the second half", watch=[process])
        assert stop(process, signal.SIGTERM) == 0, output_tail(process)
    finally:
        _kill(process)

    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, bootstrap, files.group, topic, 3)
    assert committed == ends


_OUTAGE_NOTICED = {"aiokafka": "Unable connect", "confluent-kafka": "Kafka consumer (retrying): _TRANSPORT"}
"""What each client logs once it retries the connection to a broker that is gone."""


def test_sigterm_during_a_broker_outage_stops_cleanly_and_loses_nothing(
    own_broker: Any, kafka_client: str, tmp_path: Path
) -> None:
    """SIGTERM while the broker is gone: what was fetched is landed, the offset commit and the group leave that cannot
    reach the broker are logged, and the run exits 0 (no traceback from aiokafka's fetch back-off); Kafka still holds
    everything not landed, so a run after the outage lands the rest exactly once."""
    bootstrap = own_broker.bootstrap_servers
    stream = known_stream(600)
    topic = new_topic("outage-sigterm")
    files = write_pipeline(tmp_path, bootstrap, topic=topic, batch={"max_rows": 100, "max_linger_seconds": 0.5},
                           client=kafka_client)
    _configure(files, source={"session_timeout_seconds": 10}, observability={"port": 0})
    producer = _Producer(bootstrap, topic, stream, partitions=2, parts=2)
    producer.next_part()
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        wait_until(lambda: _landed(files) >= len(producer.coordinates), "the first half", watch=[process])
        # Kafka's offsets follow each Delta commit: the outage starts once the last one is done. An offset commit the
        # broker never answers keeps librdkafka's close() asking for the group coordinator for ever
        # (confluentinc/librdkafka#3740), so a SIGTERM would never end a confluent-kafka run: a defect of its own,
        # hit here only when the machine is slow enough for the commit to be in flight as the broker stops.
        wait_until(lambda: _committed_if_at_end(bootstrap, files.group, topic, 2), "the first half's offsets committed",
                   watch=[process])
        own_broker.stop()
        # The consumer has noticed the outage once it retries the connection.
        wait_for_output(process, _OUTAGE_NOTICED[kafka_client])
        assert stop(process, signal.SIGTERM) == 0, output_tail(process)
    finally:
        _kill(process)

    output = process.output()
    assert "Traceback" not in output and "CancelledError" not in output, output[-3000:]
    assert "received SIGTERM: stopping gracefully" in output and "stopped by signal" in output, output[-3000:]
    own_broker.start()
    producer.rest()
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr[-3000:]
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)


# Root ignores permission bits (CAP_DAC_OVERRIDE), so chmod alone would not make the lake unwritable for a consumer
# running as root. The consumer runs without that capability instead, as a container's non-root user would, and the
# test removes write permission from the lake's directories: delta-rs then really gets EACCES.
WITHOUT_DAC_OVERRIDE = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")


def _start_unprivileged(config: Path, log: Path) -> LoggedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return LoggedProcess(
        [*WITHOUT_DAC_OVERRIDE, sys.executable, "-m", "streamproc.cli", "run", str(config)], log=log, cwd=REPO, env=env
    )


def _set_writable(lake: Path, writable: bool) -> None:
    for directory in [lake, *(p for p in lake.rglob("*") if p.is_dir())]:
        directory.chmod(0o755 if writable else 0o555)


def _readyz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
def test_unwritable_storage_is_retried_with_backoff_without_committing_offsets(
    kafka_bootstrap: str, kafka_client: str, tmp_path: Path
) -> None:
    stream = known_stream(scaled(3_000, 30_000))
    topic = new_topic("storage")
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 200, "max_linger_seconds": 0.5},
                           client=kafka_client)
    _configure(files, observability={"host": "127.0.0.1", "port": 0}, maintenance={"enabled": False})
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=2, parts=2)
    producer.next_part()
    process = _start_unprivileged(files.config, tmp_path / "run.log")
    try:
        port = metrics_port(process)
        wait_until(lambda: _landed(files) >= len(producer.coordinates), "the first half", watch=[process])
        # Kafka's offsets follow each Delta commit: wait for the last one, so what is read now is the final word.
        committed_before = wait_until(
            lambda: _committed_if_at_end(kafka_bootstrap, files.group, topic, 2), "the first half's offsets committed",
            watch=[process],
        )
        _set_writable(files.lake, False)
        try:
            producer.rest()
            # The operator's view of the outage: the retry warnings (with the cause) and /readyz.
            wait_for_output(process, "storage unavailable (attempt 3)")
            status, body = _readyz(port)
            assert status == 503 and body["checks"]["storage_writable"] is False, body
            committed_during, _ = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 2)
            assert committed_during == committed_before, "offsets were committed while nothing could land"
            assert _landed(files) == len(stream.payloads) // 2
            assert process.poll() is None, "the consumer gave up instead of retrying"
        finally:
            _set_writable(files.lake, True)
        wait_until(lambda: _landed(files) >= len(stream.payloads), "landing after the outage", watch=[process])
        wait_until(lambda: _readyz(port)[0] == 200, "ready again", watch=[process])
        assert stop(process, signal.SIGTERM) == 0, output_tail(process)
    finally:
        _kill(process)

    output = process.output()
    assert "Permission denied" in output  # the real error, in the retry warning
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 2)
    assert committed == ends


def _committed_if_at_end(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None] | None:
    """The group's committed offsets if they are the end offsets of every partition, else ``None``."""
    committed, ends = run_async(committed_and_end_offsets, bootstrap, group, topic, partitions)
    return committed if committed == ends else None


def test_sigterm_flushes_commits_and_hands_partitions_over_without_a_session_timeout(
    kafka_bootstrap: str, kafka_client: str, tmp_path: Path
) -> None:
    session = 60  # had the leaving member not said goodbye, the other would wait this long for its partitions
    stream = known_stream(2_000)
    topic = new_topic("graceful")
    producer = _Producer(kafka_bootstrap, topic, stream, partitions=6, parts=2)
    producer.next_part()  # in the topic before anyone fetches: a member's first fetch of a partition takes it all
    # Batches close by rows or at shutdown, never by linger. The staying member's 1,200 rows are more than the first
    # half: it lands nothing before the other joins. The leaving member closes loads of 200 and keeps the rest of
    # its ~500 events open: only its shutdown flush can land them.
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 1_200, "max_linger_seconds": 600},
                           client=kafka_client)
    _configure(files, source={"session_timeout_seconds": session}, observability={"port": 0})
    leaving_config = _variant(files, "leaving.yaml", batch={"max_rows": 200})
    staying = start_cli("run", str(files.config), log=tmp_path / "staying.log")
    leaving: LoggedProcess | None = None
    try:
        wait_until(lambda: len(_assignment(staying)) == 6, "the first member's assignment", watch=[staying])
        leaving = start_cli("run", str(leaving_config), log=tmp_path / "leaving.log")
        ours, _ = _wait_for_split([leaving, staying], 6, "a 3/3 split")
        produced_to_leaving = sum(partition in ours for partition, _ in producer.coordinates)
        full_loads, left_open = divmod(produced_to_leaving, 200)
        wait_until(lambda: len(_loads_of(leaving, files)) == full_loads, f"the leaving member's {full_loads} loads",
                   watch=[leaving, staying])

        sigterm_at = time.monotonic()
        leaving.send_signal(signal.SIGTERM)
        assert leaving.wait(timeout=60) == 0, output_tail(leaving)
        wait_until(lambda: len(_assignment(staying)) == 6, "the partitions handed over", watch=[staying])
        handed_over_after = time.monotonic() - sigterm_at

        producer.rest()
        # 1,500 events wait for the staying member now: one load closes by rows, with events of the handed-over
        # partitions in it; what it holds at its own shutdown is landed then, anything not fetched by the next run.
        wait_until(lambda: len(_loads_of(staying, files)) == 1, "the staying member's first load", watch=[staying])
        assert stop(staying, signal.SIGTERM) == 0, output_tail(staying)
    finally:
        _kill(staying)
        if leaving is not None:
            _kill(leaving)
    final = run_cli("run", str(files.config), "--until-caught-up")
    assert final.returncode == 0, final.stderr[-3000:]

    assert handed_over_after < session, f"partitions moved {handed_over_after:.1f}s after SIGTERM (session: {session}s)"
    flushed = _loads_of(leaving, files)
    assert [(load["close_reason"], load["rows_landed"] + load["rows_quarantined"]) for load in flushed] == [
        *[("rows", 200)] * full_loads, ("shutdown", left_open)
    ], "the leaving member flushed its open batch"
    assert {o["partition"] for load in flushed for o in load["offsets"]} == ours
    (taken_over,) = [load for load in _loads_of(staying, files) if load["close_reason"] == "rows"]
    assert {o["partition"] for o in taken_over["offsets"]} & ours, "the staying member landed handed-over partitions"
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 6)
    assert committed == ends
