"""The exactly-once core (:mod:`streamproc.sinks.txn` through the preparer and the committer, as the pipeline calls
them) against real Delta tables on disk.

Several Landers on one table stand for the processes of a consumer group: a zombie that lost its partitions, writers
racing for commits, a restart after a load died between its commits.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from streamproc.errors import StorageUnavailableError
from streamproc.records import TopicPartition
from tests.fixtures.exactly_once import (
    LANDER_TOPIC,
    Lander,
    assert_exactly_once,
    expected_through,
    offsets_batch,
    open_lander,
    unavailable,
)
from streamproc.sinks.reader import read_table

TOPIC = LANDER_TOPIC
_lander, _batch, _expected = open_lander, offsets_batch, expected_through


def test_a_zombie_cannot_land_an_offset_range_the_new_owner_landed(tmp_path: Path) -> None:
    owner, zombie = _lander(tmp_path, run_id="new-owner"), _lander(tmp_path, run_id="zombie")
    owner.land(_batch(0, 0, 99))
    # The zombie still holds a batch read before it lost the partition: 0..149 overlaps what the owner landed.
    outcome = zombie.land(_batch(0, 0, 149))
    owner.land(_batch(0, 150, 199))
    # And once more, entirely behind the owner: nothing at all may land.
    late = zombie.land(_batch(0, 120, 180))

    assert late.already_landed
    assert outcome.load.offsets[0].first == 100 and outcome.load.offsets[0].last == 149
    valid, invalid = _expected({0: 199})
    assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    assert owner.positions([TopicPartition(TOPIC, 0)]) == {TopicPartition(TOPIC, 0): 200}


@pytest.mark.parametrize("record_every", [1, 3])
def test_writers_racing_for_the_same_partitions_land_each_offset_once(tmp_path: Path, record_every: int) -> None:
    # Two writers of one partition committing at the same moment: delta-rs refuses the loser's commit (a concurrent
    # txn for the same app id); it re-reads the log, leaves out what the winner landed, and retries.
    landers = [_lander(tmp_path, run_id=f"w{i}", record_every=record_every) for i in range(3)]
    barrier = threading.Barrier(len(landers))
    errors: list[BaseException] = []

    def write(lander: Lander, extra: int) -> None:
        # Every writer starts each step where the shortest batch of the step before ended, as a new owner would.
        try:
            for step in range(6):
                barrier.wait(timeout=60)
                first = step * 100
                lander.land(_batch(0, first, first + 99 + extra))
                lander.land(_batch(1, first, first + 99 + extra // 2))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(lander, i * 10)) for i, lander in enumerate(landers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    for lander in landers:
        lander.landing.committer.record_loads()
    valid, invalid = _expected({0: 619, 1: 609})
    assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)


def test_a_retry_with_the_same_load_id_completes_the_interrupted_load(tmp_path: Path) -> None:
    lander = _lander(tmp_path)
    lander.land(_batch(0, 0, 199))
    batch = _batch(0, 200, 499)
    with unavailable(tmp_path / "_loads"):
        with pytest.raises(StorageUnavailableError):
            lander.land(batch, load_id="interrupted-load")
    outcome = lander.land(batch, load_id="interrupted-load")

    assert not outcome.already_landed
    assert outcome.load.rows_landed + outcome.load.rows_quarantined == 300
    valid, invalid = _expected({0: 499})
    counts = assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    assert counts["loads"] == 2


@pytest.mark.parametrize("fails", ["orders", "orders__quarantine", "_loads"])
def test_a_load_a_crash_interrupted_between_commits_is_recorded_by_the_next_owner(tmp_path: Path, fails: str) -> None:
    # The first process dies with one data table committed and not the other (the quarantine and table commits run
    # side by side, either may fail alone), or after both (_loads fails): its rows carry a load id that no _loads
    # row has, until the next owner records it.
    first = _lander(tmp_path, run_id="crashed")
    first.land(_batch(0, 0, 99))
    with unavailable(tmp_path / fails):
        with pytest.raises(StorageUnavailableError):
            first.land(_batch(0, 100, 399))

    restarted = _lander(tmp_path, run_id="restarted")
    position = restarted.positions([TopicPartition(TOPIC, 0)])[TopicPartition(TOPIC, 0)]
    # One data table short: re-read from 100 (the other leaves out what it holds). Both: complete, resume at 400.
    assert position == (400 if fails == "_loads" else 100)
    restarted.land(_batch(0, position, 599))

    valid, invalid = _expected({0: 599})
    assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    loads = read_table(str(tmp_path / "_loads")).to_pylist()
    assert {load["run_id"] for load in loads} == {"crashed", "restarted"}
    assert len(loads) == 3


def test_a_partitions_first_load_interrupted_after_its_quarantine_commit_is_read_again_from_its_start(
    tmp_path: Path,
) -> None:
    # Found by the scale-out test (a member SIGKILLed in its first load of a partition): the quarantine table was the
    # only table that knew the partition, and the next owner resumed past its version: the load's valid rows were lost.
    first = _lander(tmp_path, run_id="crashed")
    first.land(_batch(1, 0, 99))
    with unavailable(tmp_path / "orders"):
        with pytest.raises(StorageUnavailableError):
            first.land(_batch(0, 0, 199))

    restarted = _lander(tmp_path, run_id="restarted")
    tp = TopicPartition(TOPIC, 0)
    assert restarted.positions([tp]) == {tp: 0}
    restarted.land(_batch(0, 0, 299))

    valid, invalid = _expected({0: 299, 1: 99})
    assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)


def test_a_deleted_loads_table_is_rebuilt_from_the_commit_metadata(tmp_path: Path) -> None:
    lander = _lander(tmp_path, run_id="before")
    for first in range(0, 500, 100):
        lander.land(_batch(0, first, first + 99))
    shutil.rmtree(tmp_path / "_loads")

    restarted = _lander(tmp_path, run_id="after")
    assert restarted.positions([TopicPartition(TOPIC, 0)]) == {TopicPartition(TOPIC, 0): 500}
    restarted.land(_batch(0, 500, 599))

    valid, invalid = _expected({0: 599})
    assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    loads = read_table(str(tmp_path / "_loads")).to_pylist()
    assert [load["run_id"] for load in sorted(loads, key=lambda r: r["offsets"][0]["first_offset"])] == [
        "before"
    ] * 5 + ["after"]
