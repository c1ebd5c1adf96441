"""``_loads`` rows recorded in groups (``Committer(record_every=N)``, as a running pipeline records them): one
``_loads`` commit for several loads, recorded before any position is read, rebuilt after a crash, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable

from streamproc.errors import StorageUnavailableError
from streamproc.records import TopicPartition
from streamproc.sinks.reader import read_table
from tests.fixtures.exactly_once import (
    LANDER_TOPIC,
    assert_exactly_once,
    expected_through,
    offsets_batch,
    open_lander,
    unavailable,
)

TP = TopicPartition(LANDER_TOPIC, 0)


def _loads(lake: Path) -> list[dict]:
    return read_table(str(lake / "_loads")).to_pylist()


def _loads_commits(lake: Path) -> int:
    """How many commits ``_loads`` has after the one that created it."""
    return DeltaTable(str(lake / "_loads")).version()


def test_loads_rows_wait_for_their_group_and_share_one_commit(tmp_path: Path) -> None:
    lander = open_lander(tmp_path, record_every=3)
    created = _loads_commits(tmp_path)
    first = lander.land(offsets_batch(0, 0, 99))
    second = lander.land(offsets_batch(0, 100, 199))
    assert _loads(tmp_path) == [] and lander.landing.committer.unrecorded == 2

    third = lander.land(offsets_batch(0, 200, 299))

    ids = sorted(r["load_id"] for r in _loads(tmp_path))
    assert ids == sorted(outcome.load.load_id for outcome in (first, second, third))
    assert _loads_commits(tmp_path) == created + 1
    assert "loads" in third.tables[0].commit_seconds
    valid, invalid = expected_through({0: 299})
    assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    assert DeltaTable(str(tmp_path / "_loads")).transaction_version(f"g/orders/{LANDER_TOPIC}/0") == 299


def test_reading_positions_records_the_waiting_rows_first(tmp_path: Path) -> None:
    lander = open_lander(tmp_path, record_every=8)
    lander.land(offsets_batch(0, 0, 99))
    lander.land(offsets_batch(0, 100, 149))

    assert lander.positions([TP]) == {TP: 150}
    assert lander.landing.committer.take_recovered() == []  # recorded as waiting rows, not as interrupted loads
    # A Delta table's rows come back in no guaranteed order (files, and rows within a scan, are not sorted).
    assert sorted((r["offsets"][0]["first_offset"], r["offsets"][0]["last_offset"]) for r in _loads(tmp_path)) == [
        (0, 99), (100, 149)
    ]


def test_rows_a_crash_left_waiting_are_rebuilt_by_the_next_owner(tmp_path: Path) -> None:
    crashed = open_lander(tmp_path, run_id="crashed", record_every=8)
    landed = [crashed.land(offsets_batch(0, first, first + 99)).load for first in (0, 100, 200)]
    # the process dies here: its three rows never reach _loads

    restarted = open_lander(tmp_path, run_id="restarted", record_every=8)
    assert restarted.positions([TP]) == {TP: 300}
    recovered = restarted.landing.committer.take_recovered()
    assert [load.load_id for load in recovered] == [load.load_id for load in landed]
    assert [(r.rows_landed, r.rows_quarantined) for r in recovered] == [
        (load.rows_landed, load.rows_quarantined) for load in landed
    ]
    restarted.land(offsets_batch(0, 300, 399))
    restarted.landing.committer.record_loads()

    valid, invalid = expected_through({0: 399})
    counts = assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    assert counts["loads"] == 4


def test_a_group_whose_commit_failed_is_recorded_once_when_called_again(tmp_path: Path) -> None:
    lander = open_lander(tmp_path, record_every=2)
    lander.land(offsets_batch(0, 0, 99))
    batch = offsets_batch(0, 100, 299)
    with unavailable(tmp_path / "_loads"), pytest.raises(StorageUnavailableError):
        lander.land(batch, load_id="group-failed")  # both data tables committed; the group's _loads commit failed

    outcome = lander.land(batch, load_id="group-failed")

    assert not outcome.already_landed and outcome.load.rows_landed + outcome.load.rows_quarantined == 200
    assert lander.landing.committer.unrecorded == 0
    valid, invalid = expected_through({0: 299})
    counts = assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    assert counts["loads"] == 2


def test_a_waiting_row_that_the_partitions_new_owner_recorded_is_not_recorded_again(tmp_path: Path) -> None:
    # This member's session expired while its rows waited: the new owner rebuilt them from the data tables' commits.
    zombie = open_lander(tmp_path, run_id="zombie", record_every=8)
    zombie.land(offsets_batch(0, 0, 99))
    owner = open_lander(tmp_path, run_id="owner", record_every=8)
    assert owner.positions([TP]) == {TP: 100}

    assert zombie.landing.committer.record_loads() == 0

    valid, invalid = expected_through({0: 99})
    counts = assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    assert counts["loads"] == 1


def test_a_zombie_lands_nothing_the_new_owner_landed_while_both_have_rows_waiting(tmp_path: Path) -> None:
    owner = open_lander(tmp_path, run_id="new-owner", record_every=8)
    zombie = open_lander(tmp_path, run_id="zombie", record_every=8)
    owner.land(offsets_batch(0, 0, 99))
    zombie.land(offsets_batch(0, 0, 149))  # read before it lost the partition: only 100..149 are new
    owner.land(offsets_batch(0, 150, 199))

    late = zombie.land(offsets_batch(0, 120, 180))  # entirely behind the owner

    assert late.already_landed
    for lander in (zombie, owner):
        lander.landing.committer.record_loads()
    valid, invalid = expected_through({0: 199})
    # Every offset landed once and the _loads counts add up; the zombie's row may name offsets the owner's row names
    # too (it could not see the owner's waiting row), as an interrupted load's row may.
    counts = assert_exactly_once(tmp_path / "orders", valid=valid, invalid=invalid)
    assert counts["loads"] == 3
    assert owner.positions([TP]) == {TP: 200}


def test_revoked_partitions_forget_waiting_rows_only_of_loads_whose_lowest_partition_moved(tmp_path: Path) -> None:
    lander = open_lander(tmp_path, record_every=8)
    lander.land(offsets_batch(0, 0, 49))
    lander.land(offsets_batch(1, 0, 49))

    assert lander.landing.committer.forget_unrecorded({TopicPartition(LANDER_TOPIC, 1)}) == 1

    lander.landing.committer.record_loads()
    assert [r["offsets"][0]["partition"] for r in _loads(tmp_path)] == [0]
