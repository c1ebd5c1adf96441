"""``streamproc run --until-caught-up`` in a consumer group (issue 13, item 4): a member that has landed its own
partitions waits until every partition of the subscribed topics is landed up to the end offsets seen at start —
another member may hold some, or a member killed moments earlier — says why it waits, and lands a dead member's
partitions once the broker hands them over. The real broker, the real CLI, real Delta tables."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from tests.fixtures.exactly_once import assert_exactly_once, known_stream, split
from tests.fixtures.pipelines import new_topic, produce, run_async, run_cli, start_cli, wait_for_output, write_pipeline

pytestmark = pytest.mark.kafka


def test_the_help_says_what_caught_up_means() -> None:
    shown = run_cli("run", "--help")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "every partition of the subscribed topics is landed up to the end offsets seen at start" in text
    assert "whichever member of the consumer group owns it" in text


def test_a_member_caught_up_with_its_partitions_waits_for_the_others_and_lands_a_dead_members(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    stream = known_stream(400, invalid_every=17)
    topic = new_topic("caught-up")
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, batch={"max_rows": 100, "max_linger_seconds": 0.5})
    # A member that holds what it fetches without landing it (a batch that never closes), and whose partitions the
    # broker hands over 6 s after it dies.
    holder = yaml.safe_load(files.config.read_text())
    holder["source"]["session_timeout_seconds"] = 6
    holder["batch"] = {"max_rows": 1_000_000, "max_linger_seconds": 3600}
    holder_config = tmp_path / "holder.yaml"
    holder_config.write_text(yaml.safe_dump(holder))
    holder_log, backfill_log = tmp_path / "holder.log", tmp_path / "backfill.log"
    run_async(produce, kafka_bootstrap, topic, [], partitions=2)
    holder_process = start_cli("run", str(holder_config), log=holder_log)
    backfill = None
    try:
        wait_for_output(holder_process, "partitions assigned: ", timeout=90)
        coordinates = run_async(produce, kafka_bootstrap, topic, stream.payloads, partitions=2)
        backfill = start_cli("run", str(files.config), "--until-caught-up", log=backfill_log)
        # The group rebalances: each member owns one partition. The backfill lands its own and then waits, saying
        # for what and why, instead of reporting a backfill that did not finish.
        wait_for_output(backfill, "waiting for", timeout=120)  # fails at once if the backfill exits instead
        assert "owned by other members of consumer group" in backfill.output()
        holder_process.send_signal(signal.SIGKILL)
        holder_process.wait(timeout=30)
        assert backfill.wait(timeout=180) == 0, backfill.output()[-3000:]
    finally:
        for process in (holder_process, backfill):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    valid, invalid = split(stream, coordinates)
    assert_exactly_once(files.table, valid=valid, invalid=invalid)
    assert "stopped by caught_up" in backfill.output()
