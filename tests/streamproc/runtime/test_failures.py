"""Failure survival of ``streamproc run``: the real CLI in subprocesses, the real broker, real Delta tables. Crashes
and rebalances here; outages (the broker, the lake) in test_outages.py.

Every test ends with :func:`assert_exactly_once`: each valid event once in the table, each invalid one once in the
quarantine table, ``_loads`` totals equal to the tables, every ``_load_id`` in ``_loads``.

CI runs the short versions; ``make chaos`` (``STREAMPROC_CHAOS=1``) scales the counts up.
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from tests.fixtures.exactly_once import assert_exactly_once, known_stream
from tests.fixtures.failures import Producer, configure, kill, rows_landed, scaled
from tests.fixtures.pipelines import (
    PipelineFiles,
    committed_and_end_offsets,
    new_topic,
    produce,
    run_async,
    run_cli,
    start_cli,
    stop,
    write_pipeline,
)
from tests.fixtures.waiting import LoggedProcess, output_tail, wait_until
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka


def _variant(files: PipelineFiles, name: str, **top: Any) -> Path:
    """A copy of the pipeline's config named ``name`` with top-level sections changed (same group, same lake)."""
    config = yaml.safe_load(files.config.read_text())
    for key, value in top.items():
        config[key] = {**config.get(key, {}), **value}
    path = files.config.with_name(name)
    path.write_text(yaml.safe_dump(config))
    return path


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
    configure(
        files,
        source={"session_timeout_seconds": 6, "group_instance_id": "crash-loop-0"},
        maintenance={"interval_seconds": 2, "compact_min_files": 20, "vacuum_interval_seconds": 5,
                     "vacuum_retention_hours": 0},
        observability={"port": 0},
    )
    # A part of the stream arrives before each round: every round has events to land, however fast the last one was.
    producer = Producer(kafka_bootstrap, topic, stream, partitions=3, parts=kills + 1)
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
            kill(process)
    producer.rest()

    # The rest with bigger batches: positions do not depend on how a restart batches.
    configure(files, batch={"max_rows": 2_000})
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
    configure(
        files,
        source={"session_timeout_seconds": 6},
        maintenance={"interval_seconds": 2, "compact_min_files": 40},
        observability={"port": 0},
    )
    producer = Producer(kafka_bootstrap, topic, stream, partitions=6, parts=parts)
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
        wait_until(lambda: rows_landed(files) >= len(stream.payloads), "every event", timeout=scaled(300, 900), watch=live)
        # More than 40 small files per table (a load is one file in _loads): the maintainer compacts in time.
        wait_until(lambda: _compacted(files), "a compaction by the member owning partition 0", watch=live)
        for member in live:
            assert stop(member, signal.SIGTERM) == 0, output_tail(member)
    finally:
        for member in members:
            kill(member)

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


def test_sigterm_flushes_commits_and_hands_partitions_over_without_a_session_timeout(
    kafka_bootstrap: str, kafka_client: str, tmp_path: Path
) -> None:
    session = 60  # had the leaving member not said goodbye, the other would wait this long for its partitions
    stream = known_stream(2_000)
    topic = new_topic("graceful")
    producer = Producer(kafka_bootstrap, topic, stream, partitions=6, parts=2)
    producer.next_part()  # in the topic before anyone fetches: a member's first fetch of a partition takes it all
    # Batches close by rows or at shutdown, never by linger. The staying member's 1,200 rows are more than the first
    # half: it lands nothing before the other joins. The leaving member closes loads of 200 and keeps the rest of
    # its ~500 events open: only its shutdown flush can land them.
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 1_200, "max_linger_seconds": 600},
                           client=kafka_client)
    configure(files, source={"session_timeout_seconds": session}, observability={"port": 0})
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
        kill(staying)
        if leaving is not None:
            kill(leaving)
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
