"""The Kafka source: a consumer-group member on aiokafka (:mod:`.consumer`) or on confluent-kafka (:mod:`.confluent`,
its messages as records: :mod:`.messages`), what both share (:mod:`.member`), the cluster requests besides consuming
(:mod:`.admin`), and the clients' errors translated once (:mod:`.errors`). Only the client a config names is
imported."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamproc.config import KafkaSourceConfig
from streamproc.sources.kafka.member import kafka_source_uri

if TYPE_CHECKING:
    from streamproc.sources.base import Source

__all__ = ["open_kafka_source", "kafka_source_uri"]


def open_kafka_source(config: KafkaSourceConfig, *, client_id: str) -> Source:
    """The (not yet started) source of ``config.client``."""
    if config.client == "confluent-kafka":
        from streamproc.sources.kafka.confluent import ConfluentKafkaSource

        return ConfluentKafkaSource(config, client_id=client_id)
    from streamproc.sources.kafka.consumer import KafkaSource

    return KafkaSource(config, client_id=client_id)
