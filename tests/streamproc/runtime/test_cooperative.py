"""Cooperative rebalancing (confluent-kafka's ``cooperative-sticky``, KIP-429): a member added to a group of three on
six partitions takes partitions from the others without stopping them. Only the partitions that move are revoked;
the members keep landing the others through the rebalance, and nothing they had in flight is dropped. The real
CLI in subprocesses, the real broker, real Delta tables.

With an eager strategy (aiokafka, or ``range``/``roundrobin``) every member gives up every partition on each join:
the first assertion below fails there (test_failures.py's scale-out test runs eager and cooperative alike).
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deltalake.exceptions import TableNotFoundError

from tests.fixtures.exactly_once import assert_exactly_once, known_stream, split
from tests.fixtures.pipelines import PipelineFiles, new_topic, produce, run_async, start_cli, stop, write_pipeline
from tests.fixtures.waiting import LoggedProcess, output_tail, wait_until
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?partitions (assigned|revoked|lost): (.*?)(?: \(from|$)", re.M)
_JOINING = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?joining consumer group", re.M)
_LOAD = re.compile(r"\bload ([0-9a-f]{12}) \(")
_LOAD_ROWS = re.compile(r"\bload [0-9a-f]{12} \(\w+\): (\d+) landed, (\d+) quarantined")
_LOAD_AT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?\bload [0-9a-f]{12} \(", re.M)


def _at(stamp: str) -> dt.datetime:
    """A log line's time (``logging``'s asctime, local time) as an aware datetime."""
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").astimezone()


def _changes(member: LoggedProcess) -> list[tuple[dt.datetime, str, set[int]]]:
    """The member's assignment changes from its log: (when, assigned / revoked / lost, partitions)."""
    return [
        (_at(stamp), change, {int(p.rsplit("[", 1)[1].rstrip("]")) for p in listed.split(",") if p.strip()})
        for stamp, change, listed in _LINE.findall(member.output())
    ]


def _owned(member: LoggedProcess) -> set[int]:
    owned: set[int] = set()
    for _, change, partitions in _changes(member):
        owned = owned | partitions if change == "assigned" else owned - partitions
    return owned


class _SteadyProducer(threading.Thread):
    """Produces the stream in small parts, one after the other, until it is all produced or :meth:`finish` is
    called (a bounded stream: the thread ends by itself).

    It keeps at most ``ahead`` events more than ``landed()`` says were landed: every member has events to land at
    any moment, and what is left when the test calls :meth:`finish` lands in a few seconds (unpaced, it ran ~20,000
    events ahead of the members, half a minute of landing)."""

    def __init__(self, bootstrap: str, topic: str, payloads: list[bytes], *, landed: Callable[[], int],
                 ahead: int = 2_000) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.payloads = bootstrap, topic, payloads
        self.landed, self.ahead = landed, ahead
        self.coordinates: list[tuple[int, int]] = []
        self._finish = threading.Event()

    def run(self) -> None:
        for start in range(0, len(self.payloads), 60):
            while len(self.coordinates) - self.landed() > self.ahead and not self._finish.wait(0.1):
                pass
            if self._finish.is_set():
                return
            part = self.payloads[start : start + 60]
            self.coordinates += run_async(produce, self.bootstrap, self.topic, part, partitions=6)

    def finish(self) -> None:
        self._finish.set()
        self.join(timeout=120)


def test_an_added_member_pauses_landing_only_on_the_partitions_that_move(kafka_bootstrap: str, tmp_path: Path) -> None:
    stream = known_stream(30_000)  # more than the test produces: it stops producing once it has seen the rebalance
    topic = new_topic("cooperative")
    run_async(produce, kafka_bootstrap, topic, [], partitions=6)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 100, "max_linger_seconds": 0.2},
                           client="confluent-kafka", maintenance={"enabled": False})
    members = [start_cli("run", str(files.config), log=tmp_path / f"member-{i}.log") for i in range(3)]
    producer = _SteadyProducer(kafka_bootstrap, topic, stream.payloads,
                               landed=lambda: sum(_logged_rows(m) for m in list(members)))
    try:
        wait_until(lambda: [len(_owned(m)) for m in members] == [2, 2, 2], "a 3-way split", watch=members)
        producer.start()
        wait_until(lambda: all(_LOAD.search(m.output()) for m in members), "a load by each member", watch=members)
        before = {i: _owned(m) for i, m in enumerate(members)}
        members.append(start_cli("run", str(files.config), log=tmp_path / "member-3.log"))
        added = members[3]
        wait_until(lambda: _owned(added) and sum(len(_owned(m)) for m in members) == 6,
                   "the added member's partitions", watch=members)
        moved, assigned_at = _owned(added), _changes(added)[-1][0]
        # Landing goes on after the rebalance too: loads committed by the three after the added member's assignment.
        wait_until(lambda: all(_logged_load_after(m, assigned_at) for m in members[:3] if _owned(m)),
                   "loads after the rebalance", watch=members)
        producer.finish()
        wait_until(lambda: _landed(files) >= len(producer.coordinates), "every event", watch=members)
        for member in members:
            assert stop(member, signal.SIGTERM) == 0, output_tail(member)
    finally:
        producer.finish()
        for member in members:
            if member.poll() is None:
                member.kill()
                member.wait(timeout=30)

    joined_at = _at(_JOINING.search(added.output()).group(1))
    landed_during = 0
    for i, member in enumerate(members[:3]):
        kept = before[i] - moved
        changes = [(when, change, partitions) for when, change, partitions in _changes(member) if when > joined_at]
        revoked = set().union(*(p for when, change, p in changes if change != "assigned" and when < assigned_at))
        # Only what moved was revoked; what a member kept was never revoked, and nothing in flight was dropped.
        assert revoked == before[i] & moved, (i, before[i], moved, changes)
        assert not (revoked & kept)
        assert "dropped a prepared load" not in member.output(), output_tail(member)
        if not revoked:
            assert "buffered records of revoked partitions" not in member.output(), output_tail(member)
        # Its loads of the partitions it kept went on while the group rebalanced.
        landed_during += sum(
            1 for load in _member_loads(member, files)
            if joined_at <= load["committed_at"] <= assigned_at and {o["partition"] for o in load["offsets"]} & kept
        )
    assert landed_during >= 1, "no load of a kept partition committed while the group rebalanced"
    assert set().union(*before.values()) == set(range(6)) and 1 <= len(moved) <= 2

    valid, invalid = split(stream, producer.coordinates)
    assert_exactly_once(files.table, valid=valid, invalid=invalid)


def _member_loads(
    member: LoggedProcess, files: PipelineFiles, loads: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The ``_loads`` rows of the loads ``member`` logged (``loads``: ``_loads`` as read already)."""
    ids = set(_LOAD.findall(member.output()))
    loads = read_table(str(files.loads)).to_pylist() if loads is None else loads
    return [load for load in loads if load["load_id"][:12] in ids]


def _logged_rows(member: LoggedProcess) -> int:
    """The events ``member`` logged as landed or quarantined by its loads."""
    return sum(int(landed) + int(quarantined) for landed, quarantined in _LOAD_ROWS.findall(member.output()))


def _logged_load_after(member: LoggedProcess, when: dt.datetime) -> bool:
    """Whether ``member`` logged a committed load after ``when`` (its log, not the tables: cheap to poll)."""
    return any(_at(stamp) > when for stamp in _LOAD_AT.findall(member.output()))


def _landed(files: PipelineFiles) -> int:
    try:
        return read_table(str(files.table)).num_rows + read_table(str(files.quarantine)).num_rows
    except TableNotFoundError:
        return 0
