"""From a streamproc pipeline config to Faust: the app's settings, the topic a sink reads, and its records.

One config serves ``streamproc run`` and a Faust worker: the ``source`` section names the broker, the topics and the
consumer group, which for Faust is the app's id (Faust's consumer group is ``app.conf.id``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamproc.config import KafkaSourceConfig, PipelineConfig
from streamproc.errors import ConfigError
from streamproc.records import SourceRecord

if TYPE_CHECKING:
    import faust
    from faust.types import ChannelT, Message

__all__ = ["app_settings", "kafka_source_of", "check_channel", "source_record"]


def kafka_source_of(config: PipelineConfig) -> KafkaSourceConfig:
    """The config's Kafka source.

    Raises:
        ConfigError: the source is not Kafka, or asks for what Faust's consumer does not offer.
    """
    source = config.source
    if not isinstance(source, KafkaSourceConfig):
        raise ConfigError(f"pipeline {config.name!r}: a Faust app reads Kafka; the config's source is {source.type!r}")
    if getattr(source, "group_instance_id", None):
        raise ConfigError(
            f"pipeline {config.name!r}: Faust's consumer has no static membership; remove source.group_instance_id"
        )
    return source


def app_settings(config: PipelineConfig) -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` from the config's ``source`` section.

    Returns:
        ``id`` (the consumer group), ``broker`` (one ``kafka://host:port`` URL per bootstrap server),
        ``broker_session_timeout`` and ``broker_heartbeat_interval`` (a third of it, at most Faust's 3 s),
        ``consumer_auto_offset_reset``, ``broker_max_poll_records``, and ``stream_wait_empty=False``: a rebalance
        does not wait for the open batch to be acknowledged; as in ``streamproc run`` its events are dropped
        unacknowledged and their partitions' next owner re-reads them from the Delta log's position (with Faust's
        default ``True`` a rebalance waits until the batch lands, up to ``batch.max_linger_seconds``). Pass further
        Faust settings beside them: ``faust.App(**app_settings(config), datadir="...")``.

    Raises:
        ConfigError: see :func:`kafka_source_of`.
    """
    source = kafka_source_of(config)
    return {
        "id": source.consumer_group,
        "broker": [f"kafka://{server.strip()}" for server in source.bootstrap_servers.split(",") if server.strip()],
        "broker_session_timeout": source.session_timeout_seconds,
        "broker_heartbeat_interval": min(3.0, source.session_timeout_seconds / 3),
        "consumer_auto_offset_reset": source.auto_offset_reset,
        "broker_max_poll_records": source.fetch_max_records,
        "stream_wait_empty": False,
    }


def check_channel(app: faust.App, channel: ChannelT, topics: tuple[str, ...]) -> None:
    """Check that a stream's channel is a topic of ``topics`` delivering raw bytes.

    The contract validates the raw payload, and the quarantine keeps it as received; a Faust codec (``json``, a
    ``Record``) would decode first and fail on malformed input before the sink sees it.

    Raises:
        ConfigError: the channel is not a Kafka topic, reads a topic the config does not name, or decodes values.
    """
    names = getattr(channel, "topics", None)
    if not names:
        raise ConfigError(f"a DeltaSink lands a Kafka topic, not {channel!r} (declare it with app.topic(...))")
    unknown = sorted(set(names) - set(topics))
    if unknown:
        raise ConfigError(
            f"the agent reads {', '.join(unknown)}, which the pipeline config's source.topics ({', '.join(topics)}) "
            "does not name"
        )
    serializer = channel.schema.value_serializer or app.conf.value_serializer
    if serializer != "raw":
        raise ConfigError(
            f"topic {', '.join(names)} decodes values with {serializer!r}: declare it with "
            "app.topic(..., value_type=bytes, value_serializer='raw') so that the contract validates the raw payload "
            "and the quarantine keeps it"
        )


def source_record(message: Message) -> SourceRecord:
    """A Faust message as the record the batcher and the lander take: raw value and key, Kafka coordinates,
    timestamp in milliseconds (Faust's is in seconds)."""
    timestamp = message.timestamp
    return SourceRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        value=message.value,
        key=message.key,
        timestamp_ms=round(timestamp * 1000) if timestamp is not None else None,
    )
