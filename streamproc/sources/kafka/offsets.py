"""Where a partition assigned to the confluent-kafka source starts reading: the Delta log's position, else the
group's committed offset, else ``auto_offset_reset`` (the same rule as the aiokafka source's).

The group's committed offsets are read here, with one ``committed()`` request, instead of being left to librdkafka
(``OFFSET_STORED``): librdkafka resolves a stored offset through its own offset-fetch state machine, which took
~100 ms more from the assignment to the first record on a loopback broker (115 vs 15 ms, measured on the bench's
orders topic), on every start and every rebalance. When that request fails (the coordinator is moving), the
partitions are left to librdkafka as before.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, OFFSET_STORED, Consumer, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition

from streamproc.records import TopicPartition

__all__ = ["COMMITTED_TIMEOUT_SECONDS", "start_offsets"]

logger = logging.getLogger(__name__)

COMMITTED_TIMEOUT_SECONDS = 10.0
"""How long the assignment waits for the group's committed offsets before leaving them to librdkafka."""


def start_offsets(
    consumer: Consumer,
    partitions: set[TopicPartition],
    positions: Mapping[TopicPartition, int | None],
    *,
    auto_offset_reset: str,
) -> list[KafkaTopicPartition]:
    """The assignment of ``partitions`` (sorted), each at the offset it starts from.

    Args:
        consumer: the group member (inside its ``on_assign`` callback).
        partitions: the assigned partitions.
        positions: the Delta log's next offset per partition (``None`` or absent: the log does not know it).
        auto_offset_reset: ``earliest`` or ``latest``, for a partition without a committed offset.

    Returns:
        confluent-kafka partitions with offsets: a position, a committed offset, ``OFFSET_BEGINNING`` /
        ``OFFSET_END``, or ``OFFSET_STORED`` when the committed offsets could not be read.
    """
    unknown = [tp for tp in sorted(partitions) if positions.get(tp) is None]
    committed: dict[TopicPartition, int] = {}
    if unknown:
        reset = OFFSET_BEGINNING if auto_offset_reset == "earliest" else OFFSET_END
        try:
            asked = [KafkaTopicPartition(tp.topic, tp.partition) for tp in unknown]
            for answer in consumer.committed(asked, timeout=COMMITTED_TIMEOUT_SECONDS):
                ok = answer.error is None
                committed[TopicPartition(answer.topic, answer.partition)] = (
                    (answer.offset if answer.offset >= 0 else reset) if ok else OFFSET_STORED
                )
        except KafkaException as exc:
            logger.info("could not read the group's committed offsets (%s); librdkafka looks them up", exc)
            committed = dict.fromkeys(unknown, OFFSET_STORED)
    return [
        KafkaTopicPartition(tp.topic, tp.partition, at if (at := positions.get(tp)) is not None else committed[tp])
        for tp in sorted(partitions)
    ]
