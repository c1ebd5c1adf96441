"""Gateway mode: the endpoint produces each request's events to Kafka and answers once the broker has them.

The producer is aiokafka's with ``acks="all"`` and idempotence on: a ``200`` means every in-sync replica holds every
event of the request. Segment events are keyed by their user (``userId``, else ``anonymousId``), so one user's events
keep their order on one partition. A fleet of ``streamproc run`` consumers with a Kafka source on the targets' topics
then lands them (one pipeline per topic and contract).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import anyio
from aiokafka import AIOKafkaProducer

from streamproc.config import HttpGatewayConfig
from streamproc.errors import SourceError
from streamproc.sources.http.errors import UnavailableError
from streamproc.sources.http.front import Event
from streamproc.sources.http.targets import Target
from streamproc.sources.kafka.admin import ensure_topic
from streamproc.sources.kafka.errors import map_kafka_errors

__all__ = ["KafkaWriter"]

logger = logging.getLogger(__name__)


class KafkaWriter:
    """Produces targets' events to their topics (see the module docstring).

    Lifecycle: :meth:`start` (connects, creates missing topics) → :meth:`write` → :meth:`stop`.
    """

    def __init__(self, config: HttpGatewayConfig, *, client_id: str, retry_after: int) -> None:
        self.config = config
        self.client_id = client_id
        self.retry_after = retry_after
        self._producer: AIOKafkaProducer | None = None

    async def start(self, topics: Iterable[str]) -> None:
        """Connect and create the topics that do not exist (``partitions`` each).

        Raises:
            SourceUnavailableError: no bootstrap server answered.
        """
        for topic in sorted(set(topics)):
            if await ensure_topic(self.config.bootstrap_servers, topic, partitions=self.config.partitions):
                logger.info("created topic %s with %d partitions", topic, self.config.partitions)
        producer = AIOKafkaProducer(
            bootstrap_servers=self.config.bootstrap_servers,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=self.config.linger_ms,
            request_timeout_ms=int(self.config.request_timeout_seconds * 1000),
        )
        with map_kafka_errors(f"cannot reach the Kafka broker at {self.config.bootstrap_servers}"):
            await producer.start()
        self._producer = producer

    def check_capacity(self, target: Target, size: int) -> None:
        """Kafka is the buffer: the producer's own limits apply (a full buffer or a slow broker is a ``503``)."""

    async def write(self, target: Target, events: Sequence[Event]) -> None:
        """Produce ``events`` to ``target``'s topic and wait for every acknowledgement.

        Raises:
            UnavailableError: the broker did not acknowledge them all in time (retry the request).
        """
        if self._producer is None or target.topic is None:
            raise UnavailableError(
                "the Kafka producer is not started", code="unavailable", retry_after=self.retry_after
            )
        try:
            with anyio.fail_after(self.config.request_timeout_seconds), map_kafka_errors("producing failed"):
                futures = [await self._producer.send(target.topic, e.payload, key=e.key) for e in events]
                for future in futures:
                    await future
        except (SourceError, TimeoutError) as exc:
            raise UnavailableError(
                f"Kafka did not acknowledge the events for {target.topic}: {exc or type(exc).__name__}",
                code="kafka_unavailable",
                retry_after=self.retry_after,
            ) from exc
        return None

    async def stop(self) -> None:
        """Flush and close the producer. Idempotent."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
