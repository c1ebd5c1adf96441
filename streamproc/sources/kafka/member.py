"""What both Kafka sources (aiokafka's :mod:`.consumer`, confluent-kafka's :mod:`.confluent`) share as members of a
consumer group: the lineage URI, the assignment and revocation log lines, the explanation of a slow join, and
committing only the offsets of partitions still owned."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from streamproc.config import KafkaSourceConfig
from streamproc.records import TopicPartition

__all__ = ["GroupMember", "kafka_source_uri", "describe_partitions"]

logger = logging.getLogger("streamproc.sources.kafka")

_JOIN_WAIT_LOG_SECONDS = 10.0
"""How long joining the group may take before the member says why it waits (and again every as long)."""


def kafka_source_uri(bootstrap_servers: str, topic: str) -> str:
    """``kafka://host:port/topic``: the first bootstrap server and the topic (OpenLineage naming spec's Kafka
    namespace ``kafka://{bootstrap server host}:{port}`` with the topic as the dataset name)."""
    first = bootstrap_servers.split(",")[0].strip()
    return f"kafka://{first}/{topic}"


def describe_partitions(partitions: Iterable[TopicPartition]) -> str:
    """``topic[0], topic[1]``, sorted."""
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(partitions))


class GroupMember:
    """The client-independent half of a Kafka source (see the module docstring).

    Args:
        config: the source's config.
        client_id: the client id the broker sees.
    """

    bounded = False

    def __init__(self, config: KafkaSourceConfig, *, client_id: str) -> None:
        self.config = config
        self.client_id = client_id
        self.joined = False
        """Whether the consumer joined its group (a first assignment arrived, possibly empty)."""
        self.missing_topics: list[str] = []
        """Subscribed topics the cluster did not have when the source was checked (set by ``check()``)."""
        self._subscribed_at = 0.0
        self._waited_logged_at = 0.0

    @property
    def source_uris(self) -> dict[str, str]:
        """topic → ``kafka://host:port/topic``."""
        return {t: kafka_source_uri(self.config.bootstrap_servers, t) for t in self.config.topics}

    def subscribed(self) -> None:
        """Call once subscribed: the join-wait explanation counts from now."""
        self._subscribed_at = self._waited_logged_at = time.monotonic()
        logger.info(
            "joining consumer group %s (client %s, %s assignment)",
            self.config.consumer_group, self.config.client, self.config.assignment_strategy,
        )

    @staticmethod
    def log_assigned(partitions: set[TopicPartition], positions: dict[TopicPartition, int | None]) -> None:
        """The assignment's log line (tests and operators read it: the partitions, then the Delta log's positions)."""
        logger.info(
            "partitions assigned: %s (from the Delta log: %s)",
            describe_partitions(partitions),
            ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(positions.items()) if o is not None)
            or "none",
        )

    @staticmethod
    def log_revoked(partitions: set[TopicPartition], *, lost: bool = False) -> None:
        logger.info("partitions %s: %s", "lost" if lost else "revoked", describe_partitions(partitions))

    def explain_join_wait(self) -> None:
        """Say why nothing happens while the group's rebalance waits (instead of a minute of silence)."""
        if self.joined:
            return
        now = time.monotonic()
        if now - self._waited_logged_at < _JOIN_WAIT_LOG_SECONDS:
            return
        self._waited_logged_at = now
        if self.missing_topics:  # not a rebalance held up by other members: there is nothing to assign yet
            logger.warning(
                "still joining consumer group %s after %.0fs: topic %s did not exist on %s when the run started; "
                "the member waits until it is created (check source.topics, or produce into it)",
                self.config.consumer_group,
                now - self._subscribed_at,
                ", ".join(repr(topic) for topic in self.missing_topics),
                self.config.bootstrap_servers,
            )
            return
        logger.warning(
            "still joining consumer group %s after %.0fs: the broker holds a rebalance until every member has "
            "rejoined, and a member that was killed stays in the group until its session expires (its "
            "session_timeout_seconds; %g here)%s",
            self.config.consumer_group,
            now - self._subscribed_at,
            self.config.session_timeout_seconds,
            f"; static member {self.config.group_instance_id!r} keeps its partitions until then"
            if self.config.group_instance_id
            else "",
        )

    @staticmethod
    def owned_offsets(offsets: dict[TopicPartition, int], owned: set[TopicPartition]) -> dict[TopicPartition, int]:
        """The next-offsets to commit to Kafka: those of partitions this member still owns (a revoked partition's
        new owner commits its own)."""
        return {tp: o for tp, o in offsets.items() if tp in owned}
