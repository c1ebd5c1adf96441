"""Where an assigned partition starts when the Delta log does not know it: the group's committed offset, else
``auto_offset_reset``; a position the Delta log knows wins over both. Both clients, the real broker, each source as
the pipeline starts it."""

from __future__ import annotations

import uuid

import anyio
import pytest
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as KafkaTopicPartition

from streamproc.config import KafkaSourceConfig
from streamproc.sources.kafka.admin import ensure_topic
from tests.fixtures.kafka_source import read_chunks
from tests.fixtures.pipelines import produce, run_async
from tests.fixtures.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.kafka


def _commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit ``offsets`` (partition → next offset) for ``group``, as an earlier member of the group would have."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[KafkaTopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()


async def _first_offsets(
    bootstrap: str, topic: str, group: str, client: str, *, reset: str, positions: dict[int, int], wanted: int
) -> dict[int, int]:
    """Start the source, read ``wanted`` records, stop; the first offset read per partition."""
    config = KafkaSourceConfig(
        bootstrap_servers=bootstrap, topics=(topic,), consumer_group=group, client=client, auto_offset_reset=reset
    )
    chunks = await read_chunks(config, wanted=wanted, positions=positions)
    first: dict[int, int] = {}
    for chunk in chunks:
        first.setdefault(chunk.partition, min(chunk.offsets))
    return first


@pytest.mark.parametrize("client", ["confluent-kafka", "aiokafka"])
def test_the_delta_position_then_the_committed_offset_then_the_reset_say_where_a_partition_starts(
    kafka_bootstrap: str, client: str
) -> None:
    topic, group = f"start-{uuid.uuid4().hex[:8]}", f"start-{uuid.uuid4().hex[:8]}"
    run_async(ensure_topic, kafka_bootstrap, topic, partitions=3)
    run_async(produce, kafka_bootstrap, topic, [b'{"n": %d}' % i for i in range(150)], partitions=3)
    _commit(kafka_bootstrap, group, topic, {0: 30, 1: 40})

    # partition 0: committed 30, but the Delta log says 45; partition 1: committed 40; partition 2: nothing, earliest
    first = run_async(
        _first_offsets, kafka_bootstrap, topic, group, client, reset="earliest", positions={0: 45},
        wanted=(50 - 45) + (50 - 40) + 50,
    )

    assert first == {0: 45, 1: 40, 2: 0}


@pytest.mark.parametrize("client", ["confluent-kafka", "aiokafka"])
def test_a_partition_without_a_position_or_a_committed_offset_starts_at_the_end_with_latest(
    kafka_bootstrap: str, client: str
) -> None:
    topic, group = f"latest-{uuid.uuid4().hex[:8]}", f"latest-{uuid.uuid4().hex[:8]}"
    run_async(ensure_topic, kafka_bootstrap, topic, partitions=1)
    run_async(produce, kafka_bootstrap, topic, [b'{"n": %d}' % i for i in range(20)], partitions=1)

    async def later_records() -> dict[int, int]:
        result: dict[int, int] = {}

        async def read() -> None:
            result.update(
                await _first_offsets(kafka_bootstrap, topic, group, client, reset="latest", positions={}, wanted=1)
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            # One record a second until the member, once assigned, reads one: only those can be read, never the 20
            # produced before it joined.
            with anyio.fail_after(DEADLINE_SECONDS):
                while not result:
                    await produce(kafka_bootstrap, topic, [b'{"late": true}'], partitions=1)
                    with anyio.move_on_after(1):
                        while not result:
                            await anyio.sleep(0.05)
        return result

    assert run_async(later_records)[0] >= 20
