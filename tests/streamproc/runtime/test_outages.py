"""Outages survived by ``streamproc run``: the broker restarting (mid-run, under an idle consumer, past the group
session), SIGTERM while it is gone, the lake turning unwritable. The real CLI in subprocesses, a real broker (a test's
own one where the test stops it), real Delta tables; every test ends with :func:`assert_exactly_once` (see
test_failures.py for the crashes and rebalances).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.exactly_once import assert_exactly_once, known_stream
from tests.fixtures.failures import Producer, committed_if_at_end, configure, kill, rows_landed, scaled
from tests.fixtures.kafka import running_broker
from tests.fixtures.ops import metrics_port, sample_values, scrape
from tests.fixtures.pipelines import (
    REPO,
    PipelineFiles,
    committed_and_end_offsets,
    new_topic,
    run_async,
    run_cli,
    start_cli,
    stop,
    wait_for_output,
    write_pipeline,
)
from tests.fixtures.waiting import LoggedProcess, output_tail, wait_until

pytestmark = pytest.mark.kafka


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A broker of this test's own, to stop and start without disturbing the session's."""
    with running_broker(tmp_path / "kafka") as broker:
        yield broker


_OUTAGE_NOTICED = {
    "aiokafka": ("Unable connect",),
    "confluent-kafka": ("Kafka consumer (retrying)", "partitions lost"),
}
"""What each client logs once it has noticed that the broker is gone. aiokafka retries its connection on every fetch.
librdkafka usually reports the refused reconnection at once (``_TRANSPORT``, ``_ALL_BROKERS_DOWN``), but when a
metadata request reached the broker after it was fenced in its controlled shutdown, the answer lists no broker and
librdkafka forgets every broker it knew (confluentinc/librdkafka#5301): it may then stay quiet until the group
session times out (``partitions lost``, one session timeout later; the source then replaces its consumer). Seen in
CI, where waiting for ``_TRANSPORT`` alone timed out."""


def _noticed_outage(output: str, kafka_client: str) -> bool:
    return any(sign in output for sign in _OUTAGE_NOTICED[kafka_client])


def test_the_consumer_waits_out_a_broker_restart_and_resumes(own_broker: Any, kafka_client: str, tmp_path: Path) -> None:
    bootstrap = own_broker.bootstrap_servers
    stream = known_stream(scaled(6_000, 60_000))
    topic = new_topic("broker-restart")
    files = write_pipeline(tmp_path, bootstrap, topic=topic, batch={"max_rows": 200, "max_linger_seconds": 0.5},
                           client=kafka_client)
    configure(files, source={"session_timeout_seconds": 10}, observability={"port": 0})
    producer = Producer(bootstrap, topic, stream, partitions=3, parts=2)
    producer.next_part()
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        # Mid-run: a third of the first half landed, the rest is being fetched and landed.
        wait_until(lambda: rows_landed(files) >= len(producer.coordinates) // 3, "a first load", watch=[process])
        before = len(process.output())
        own_broker.stop()
        # The outage lasts until the consumer has seen it (retrying its connection, logged after the stop) and is
        # still running: the broker comes back to a consumer that waited, not one that never noticed.
        wait_until(lambda: _noticed_outage(process.output()[before:], kafka_client),
                   f"{kafka_client} retrying the connection to the stopped broker", watch=[process])
        own_broker.start()
        producer.rest()
        wait_until(lambda: rows_landed(files) >= len(stream.payloads), "the second half", watch=[process])
        assert stop(process, signal.SIGTERM) == 0, output_tail(process)
    finally:
        kill(process)

    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, bootstrap, files.group, topic, 3)
    assert committed == ends


@contextlib.contextmanager
def _caught_up_run(
    broker: Any, kafka_client: str, tmp_path: Path, *, topic: str, events: int
) -> Iterator[tuple[LoggedProcess, PipelineFiles, Producer]]:
    """A run on two partitions that landed the first half of ``events`` and committed its offsets to Kafka, and is
    now caught up and idle (nothing in flight); the process is killed at the end if still running."""
    bootstrap = broker.bootstrap_servers
    files = write_pipeline(tmp_path, bootstrap, topic=topic, batch={"max_rows": 100, "max_linger_seconds": 0.5},
                           client=kafka_client)
    configure(files, source={"session_timeout_seconds": 10}, observability={"port": 0})
    producer = Producer(bootstrap, topic, known_stream(events), partitions=2, parts=2)
    producer.next_part()
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        wait_until(lambda: rows_landed(files) >= len(producer.coordinates), "the first half", watch=[process])
        # Kafka's offsets follow each Delta commit: the run is idle once the last one is done (an offset commit the
        # broker never answers is the paused-broker test's scenario, below).
        wait_until(lambda: committed_if_at_end(bootstrap, files.group, topic, 2), "the first half's offsets committed",
                   watch=[process])
        yield process, files, producer
    finally:
        kill(process)


def _land_the_rest_after_a_restart(broker: Any, process: LoggedProcess, files: PipelineFiles,
                                   producer: Producer) -> None:
    """Start ``broker`` again, produce the second half, wait until the run landed it and committed its offsets, and
    stop the run with SIGTERM (exit 0)."""
    broker.start()
    producer.rest()
    wait_until(lambda: rows_landed(files) >= len(producer.stream.payloads), "the events produced after the outage",
               watch=[process])
    wait_until(lambda: committed_if_at_end(broker.bootstrap_servers, files.group, producer.topic, 2),
               "every offset committed", watch=[process])
    assert stop(process, signal.SIGTERM) == 0, output_tail(process)


def test_a_caught_up_consumer_lands_what_is_produced_after_a_broker_outage(
    own_broker: Any, kafka_client: str, tmp_path: Path
) -> None:
    """The broker stops while the consumer is caught up and idle, and starts again once the consumer has noticed:
    events produced afterwards land within the usual deadline (far below librdkafka's 5-minute metadata refresh or
    re-bootstrap), exactly once, and their offsets are committed."""
    with _caught_up_run(
        own_broker, kafka_client, tmp_path, topic=new_topic("idle-outage"), events=400
    ) as (process, files, producer):
        before = len(process.output())
        own_broker.stop()
        wait_until(lambda: _noticed_outage(process.output()[before:], kafka_client),
                   f"{kafka_client} noticing that the broker is gone", watch=[process])
        during = process.output()[before:]
        _land_the_rest_after_a_restart(own_broker, process, files, producer)

    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    # The client retries every 0.1-10 s and logs each attempt; a line repeats once per 30 s, not per attempt.
    assert not _repeated_client_lines(during), during[-3000:]


def test_a_confluent_member_whose_session_expired_in_an_outage_joins_again_with_a_new_consumer(
    own_broker: Any, tmp_path: Path
) -> None:
    """The broker stays down past the group session (10 s) under an idle confluent-kafka consumer: librdkafka reports
    the partitions lost, and the source replaces its consumer with a new one that joins again from
    ``bootstrap.servers`` (librdkafka may have forgotten every broker in the broker's controlled shutdown,
    confluentinc/librdkafka#5301, and would then never reconnect). Events produced after the outage land exactly
    once and their offsets are committed."""
    with _caught_up_run(
        own_broker, "confluent-kafka", tmp_path, topic=new_topic("expired-session"), events=400
    ) as (process, files, producer):
        before = len(process.output())
        own_broker.stop()
        wait_until(lambda: "joining again with a new consumer" in process.output()[before:],
                   "the session lost and the consumer replaced", watch=[process])
        assert "partitions lost" in process.output()[before:], output_tail(process)
        _land_the_rest_after_a_restart(own_broker, process, files, producer)

    assert "Traceback" not in process.output(), output_tail(process)
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)


def _repeated_client_lines(output: str) -> set[str]:
    """The Kafka client's log lines (aiokafka's loggers, librdkafka's) that ``output`` holds more than once."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for line in output.splitlines():
        _, _, record = line.partition(",")  # after the timestamp's date and seconds: "569 ERROR   aiokafka: ..."
        level_and_message = record.split(maxsplit=1)[-1] if record else ""
        name = level_and_message.split(maxsplit=1)[-1].split(":", 1)[0]
        if not (name.startswith("aiokafka") or name == "streamproc.sources.kafka.librdkafka"):
            continue
        (repeated if level_and_message in seen else seen).add(level_and_message)
    return repeated


def test_sigterm_during_a_broker_outage_stops_cleanly_and_loses_nothing(
    own_broker: Any, kafka_client: str, tmp_path: Path
) -> None:
    """SIGTERM while the broker is gone: what was fetched is landed, the offset commit and the group leave that cannot
    reach the broker are logged, and the run exits 0 (no traceback from aiokafka's fetch back-off); Kafka still holds
    everything not landed, so a run after the outage lands the rest exactly once."""
    with _caught_up_run(
        own_broker, kafka_client, tmp_path, topic=new_topic("outage-sigterm"), events=600
    ) as (process, files, producer):
        before = len(process.output())
        own_broker.stop()
        # The consumer has noticed the outage.
        wait_until(lambda: _noticed_outage(process.output()[before:], kafka_client),
                   f"{kafka_client} noticing that the broker is gone", watch=[process])
        assert stop(process, signal.SIGTERM) == 0, output_tail(process)

    output = process.output()
    assert "Traceback" not in output and "CancelledError" not in output, output[-3000:]
    assert "received SIGTERM: stopping gracefully" in output and "stopped by signal" in output, output[-3000:]
    own_broker.start()
    producer.rest()
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr[-3000:]
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)



@contextlib.contextmanager
def _commit_unanswered(
    broker: Any, kafka_client: str, tmp_path: Path, *, grace_seconds: float
) -> Iterator[tuple[LoggedProcess, PipelineFiles, Producer]]:
    """A run whose batch landed after the broker stopped answering (paused: its connections stay open), so that its
    offset commit is never answered; the broker resumes at the end."""
    stream = known_stream(300)
    topic = new_topic("paused-broker")
    files = write_pipeline(tmp_path, broker.bootstrap_servers, topic=topic,
                           batch={"max_rows": 10_000, "max_linger_seconds": 3}, client=kafka_client)
    configure(files, source={"session_timeout_seconds": 10}, observability={"port": 0},
              shutdown_grace_seconds=grace_seconds)
    producer = Producer(broker.bootstrap_servers, topic, stream, partitions=2, parts=1)
    producer.next_part()
    process = start_cli("run", str(files.config), log=tmp_path / "run.log")
    try:
        port = metrics_port(process)
        # Every event fetched into the batch that lingers open: it closes, lands and commits while the broker sleeps.
        wait_until(lambda: sample_values(scrape(port), "streamproc_batch_open_events", pipeline="orders-test")
                   == len(stream.payloads), "every event in the open batch", watch=[process])
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: rows_landed(files) == len(stream.payloads), "the batch landed", watch=[process])
            wait_for_output(process, "load ")  # the load is logged just before its offsets are committed
            yield process, files, producer
        finally:
            os.kill(broker.pid, signal.SIGCONT)
    finally:
        kill(process)


def _lands_the_rest_exactly_once(files: PipelineFiles, producer: Producer) -> None:
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr[-3000:]
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)


def test_sigterm_while_an_offset_commit_waits_on_a_paused_broker_exits_within_the_grace_period(
    own_broker: Any, kafka_client: str, tmp_path: Path
) -> None:
    """The broker stops answering after a batch was fetched: the batch lands, its offset commit is never answered,
    and SIGTERM still ends the run within ``shutdown_grace_seconds``, exit 0, saying that the consumer was not closed.
    librdkafka's ``close()`` would wait for that commit for ever (confluentinc/librdkafka#3740); the Delta log holds
    the positions, so a run after the pause lands nothing twice."""
    with _commit_unanswered(own_broker, kafka_client, tmp_path, grace_seconds=8) as (process, files, producer):
        started = time.monotonic()
        assert stop(process, signal.SIGTERM) == 0, output_tail(process)
        assert time.monotonic() - started < 20, output_tail(process)  # the grace period (8 s), and the exit
    output = process.output()
    assert "did not close in time" in output or "could not leave group" in output, output[-3000:]
    # aiokafka's offset commit goes on in a task it shields once the grace period cut its caller: its failure is
    # logged in one line, not as asyncio's "Task exception was never retrieved" with a traceback.
    assert "Traceback" not in output and "never retrieved" not in output, output[-3000:]
    _lands_the_rest_exactly_once(files, producer)


def test_a_second_ctrl_c_stops_at_once_with_exit_130_and_a_summary(
    own_broker: Any, kafka_client: str, tmp_path: Path
) -> None:
    """Ctrl-C starts a graceful stop and says that a second one stops at once; the second cuts the stop short (here
    it would wait out a 60 s grace period for the paused broker): exit 130, the run's summary, what was landed
    stays and a run afterwards lands the rest exactly once."""
    with _commit_unanswered(own_broker, kafka_client, tmp_path, grace_seconds=60) as (process, files, producer):
        process.send_signal(signal.SIGINT)
        wait_for_output(process, "Ctrl-C again stops at once")
        started = time.monotonic()
        assert stop(process, signal.SIGINT, timeout=30) == 130, output_tail(process)
        assert time.monotonic() - started < 20, output_tail(process)
    output = process.output()
    assert "stopped by interrupt" in output and "interrupted: stopped at once" in output, output[-3000:]
    assert "Aborted!" not in output, output[-3000:]
    _lands_the_rest_exactly_once(files, producer)


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
    configure(files, observability={"host": "127.0.0.1", "port": 0}, maintenance={"enabled": False})
    producer = Producer(kafka_bootstrap, topic, stream, partitions=2, parts=2)
    producer.next_part()
    process = _start_unprivileged(files.config, tmp_path / "run.log")
    try:
        port = metrics_port(process)
        wait_until(lambda: rows_landed(files) >= len(producer.coordinates), "the first half", watch=[process])
        # Kafka's offsets follow each Delta commit: wait for the last one, so what is read now is the final word.
        committed_before = wait_until(
            lambda: committed_if_at_end(kafka_bootstrap, files.group, topic, 2), "the first half's offsets committed",
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
            assert rows_landed(files) == len(stream.payloads) // 2
            assert process.poll() is None, "the consumer gave up instead of retrying"
        finally:
            _set_writable(files.lake, True)
        wait_until(lambda: rows_landed(files) >= len(stream.payloads), "landing after the outage", watch=[process])
        wait_until(lambda: _readyz(port)[0] == 200, "ready again", watch=[process])
        assert stop(process, signal.SIGTERM) == 0, output_tail(process)
    finally:
        kill(process)

    output = process.output()
    assert "Permission denied" in output  # the real error, in the retry warning
    valid, invalid = producer.expected()
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    committed, ends = run_async(committed_and_end_offsets, kafka_bootstrap, files.group, topic, 2)
    assert committed == ends
