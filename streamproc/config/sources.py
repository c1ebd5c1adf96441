"""Where events come from: a Kafka consumer group, a file, or the HTTP source (Segment's API, NDJSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from streamproc.config.base import Frozen, RelativeToConfig

__all__ = ["SEGMENT_CALL_TYPES", "AssignmentStrategy", "KafkaClient", "KafkaSourceConfig", "FileSourceConfig", "HttpRouteConfig", "HttpGatewayConfig", "HttpSourceConfig",
           "SourceConfig"]


KafkaClient = Literal["aiokafka", "confluent-kafka"]
"""The Kafka consumer library: aiokafka (pure Python on asyncio) or confluent-kafka (librdkafka, in C)."""

AssignmentStrategy = Literal["range", "roundrobin", "cooperative-sticky"]
"""Kafka's ``partition.assignment.strategy``: the eager ones (every member gives up every partition on each
rebalance) or cooperative-sticky (KIP-429: only the partitions that move are revoked; confluent-kafka only)."""


class KafkaSourceConfig(Frozen):
    """Where to consume from: a Kafka consumer group, through aiokafka or confluent-kafka (docs/kafka-clients.md)."""

    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str = Field(description="comma-separated host:port list")
    topics: tuple[str, ...] = Field(min_length=1)
    consumer_group: str
    client: KafkaClient = Field(
        "confluent-kafka",
        description="the consumer library: confluent-kafka (librdkafka: fetches in its own threads, ~70 % less of the "
        "consuming thread's CPU per event, cooperative rebalancing; ~45 MiB more resident) or aiokafka (pure Python)",
    )
    partition_assignment_strategy: AssignmentStrategy | None = Field(
        None,
        description="how the group spreads partitions (Kafka's partition.assignment.strategy); default: roundrobin "
        "with aiokafka, cooperative-sticky with confluent-kafka (a rebalance revokes only the partitions that move)",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="where a partition starts when neither the Delta log nor Kafka has a position"
    )
    fetch_max_records: int = Field(
        10_000, gt=0, description="records per fetch (aiokafka getmany max_records, confluent-kafka consume num_messages)"
    )
    client_config: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="confluent-kafka only: more librdkafka consumer properties (e.g. fetch.wait.max.ms, "
        "queued.max.messages.kbytes, security.protocol), over streamproc's; group and offset properties are "
        "streamproc's own and refused here",
    )
    session_timeout_seconds: float = Field(30.0, gt=0)
    group_instance_id: str | None = Field(
        None,
        description="static group membership (Kafka's group.instance.id, KIP-345), e.g. a StatefulSet pod name: a "
        "member restarted with the same id gets its partitions back without a rebalance; a static member does not "
        "leave the group on shutdown, its partitions wait for it up to session_timeout_seconds",
    )

    @field_validator("topics", mode="before")
    @classmethod
    def _one_topic_is_a_list(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _client_supports(self) -> KafkaSourceConfig:
        if self.client == "aiokafka" and self.partition_assignment_strategy == "cooperative-sticky":
            raise ValueError(
                "partition_assignment_strategy cooperative-sticky needs client: confluent-kafka (aiokafka has no "
                "cooperative rebalancing, KIP-429)"
            )
        if self.client_config and self.client != "confluent-kafka":
            raise ValueError("client_config holds librdkafka properties: it needs client: confluent-kafka")
        owned = sorted(set(self.client_config) & _OWN_CLIENT_PROPERTIES)
        if owned:
            raise ValueError(
                f"client_config may not set {', '.join(owned)}: streamproc sets them (from consumer_group, "
                "session_timeout_seconds, group_instance_id, auto_offset_reset, partition_assignment_strategy; offsets "
                "are committed only after the Delta commit)"
            )
        return self

    @property
    def assignment_strategy(self) -> AssignmentStrategy:
        """The partition assignment strategy in force (the configured one, else the client's default)."""
        if self.partition_assignment_strategy is not None:
            return self.partition_assignment_strategy
        return "cooperative-sticky" if self.client == "confluent-kafka" else "roundrobin"


_OWN_CLIENT_PROPERTIES = frozenset({
    "bootstrap.servers", "group.id", "group.instance.id", "enable.auto.commit", "enable.auto.offset.store",
    "auto.offset.reset", "session.timeout.ms", "partition.assignment.strategy", "client.id", "on_commit",
    "error_cb", "logger", "stats_cb",
})
"""librdkafka properties that streamproc's exactly-once protocol and config set, refused in ``client_config``."""


class FileSourceConfig(Frozen):
    """Where to read from: one NDJSON, CSV or Parquet file (a bounded source; the run ends at its end)."""

    type: Literal["file"]
    path: RelativeToConfig = Field(description="the file; relative paths are relative to the config file")
    consumer_group: str = Field("file", description="names the exactly-once positions in the Delta log")


SEGMENT_CALL_TYPES: tuple[str, ...] = ("track", "identify", "page", "screen", "group", "alias")
"""The Segment Tracking API's call types (its ``type`` field), one ``/v1/<type>`` endpoint each."""


class HttpRouteConfig(Frozen):
    """Where the events of one HTTP route land: a contract and its table (in gateway mode: its Kafka topic)."""

    contract: str = Field(description="module:Class of the contract")
    table_uri: RelativeToConfig | None = Field(
        None, description="default: beside sink.table_uri, named after the contract"
    )
    topic: str | None = Field(None, description="gateway mode: the topic (default: gateway.topic_prefix + table name)")


class HttpGatewayConfig(Frozen):
    """Gateway mode: requests are produced to Kafka topics (aiokafka, ``acks=all``, idempotent) and acknowledged
    once the broker acknowledged them; ``streamproc run`` with a Kafka source lands them."""

    bootstrap_servers: str = Field(description="comma-separated host:port list")
    topic_prefix: str = Field("", description="a route's default topic is this prefix + its table name")
    topic: str | None = Field(None, description="the topic of the pipeline's own contract (default: prefix + table)")
    partitions: int = Field(3, gt=0, description="partitions of a topic the gateway creates")
    request_timeout_seconds: float = Field(30.0, gt=0, description="how long to wait for the broker's acks")
    linger_ms: int = Field(5, ge=0, description="aiokafka linger_ms: batching of concurrent requests")


class HttpSourceConfig(Frozen):
    """Events arrive over HTTP: Segment's Tracking API (``/v1/batch``, ``/v1/track``, ...) and NDJSON/JSON
    ingestion (``/ingest/{contract}``), durable in a write-ahead log before the response (see
    :mod:`streamproc.sources.http`). Each route (Segment call type, ``track:<event name>``) lands into its own contract's
    table; events of no route land into the pipeline's own ``contract``.
    """

    type: Literal["http"]
    host: str = Field("0.0.0.0", description="interface to listen on")  # noqa: S104 - a container's pod IP
    port: int = Field(8088, ge=0, le=65535, description="TCP port (0: any free port, logged at start)")
    public_url: str | None = Field(
        None, description="this endpoint's URL in the _source lineage column (default: http://<hostname>:<port>)"
    )
    wal_dir: RelativeToConfig | None = Field(None, description="the write-ahead log's folder (required unless gateway)")
    consumer_group: str = Field("http", description="names the exactly-once positions in the Delta log")
    partition: int = Field(
        0, ge=0, description="this replica's partition number: give each replica writing the same tables its own"
    )
    routes: dict[str, HttpRouteConfig] = Field(
        default_factory=dict,
        description="route → contract: Segment call types (track, identify, page, screen, group, alias) and "
        "'track:<event name>'; a string is module:Class",
    )
    write_keys: tuple[SecretStr, ...] = Field((), description="accepted write keys (e.g. ${SEGMENT_WRITE_KEY})")
    write_keys_file: RelativeToConfig | None = Field(None, description="a secrets file with one write key per line")
    require_write_key: bool = Field(True, description="refuse requests without a valid write key")
    max_event_bytes: int = Field(32 * 1024, gt=0, description="Segment's limit per event (bytes of JSON)")
    max_batch_bytes: int = Field(500 * 1024, gt=0, description="Segment's limit per request body (uncompressed)")
    max_ingest_bytes: int = Field(64 * 1024 * 1024, gt=0, description="limit per /ingest request body")
    max_unlanded_bytes: int = Field(
        1024 * 1024 * 1024, gt=0, description="write-ahead log backlog (not yet landed) above which requests get 429"
    )
    segment_bytes: int = Field(64 * 1024 * 1024, gt=0, description="size at which a log segment file is rolled")
    fetch_max_records: int = Field(10_000, gt=0, description="records per fetch from the log")
    gateway: HttpGatewayConfig | None = Field(None, description="produce to Kafka instead of landing")

    @field_validator("routes", mode="before")
    @classmethod
    def _known_routes(cls, routes: Any) -> Any:
        if not isinstance(routes, dict):
            return routes
        for key in routes:
            kind, colon, event = str(key).partition(":")
            if kind not in SEGMENT_CALL_TYPES or (colon and (kind != "track" or not event)):
                raise ValueError(
                    f"unknown route {key!r}: expected one of {', '.join(SEGMENT_CALL_TYPES)} or 'track:<event name>'"
                )
        return {key: {"contract": route} if isinstance(route, str) else route for key, route in routes.items()}

    @field_validator("write_keys", mode="before")
    @classmethod
    def _one_key_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _log_or_gateway(self) -> HttpSourceConfig:
        keys = list(self.write_keys)
        if self.write_keys_file is not None:
            # Secrets are read here only, never logged (SecretStr masks them in every dump).
            try:
                lines = Path(self.write_keys_file).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ValueError(f"cannot read write_keys_file {self.write_keys_file}: {exc.strerror}") from None
            keys += [SecretStr(line.strip()) for line in lines if line.strip() and not line.startswith("#")]
        keys = [key for key in keys if key.get_secret_value()]
        if len(keys) != len(self.write_keys):
            self = self.model_copy(update={"write_keys": tuple(keys)})  # noqa: PLW0642 - the validated model
        if self.gateway is None and not self.wal_dir:
            raise ValueError("wal_dir is required (or a gateway section, to produce to Kafka instead)")
        if self.require_write_key and not self.write_keys:
            raise ValueError(
                'no write keys: set write_keys (e.g. ["${SEGMENT_WRITE_KEY}"]) or write_keys_file; '
                "require_write_key: false takes events from anyone who reaches the port (then set host: 127.0.0.1)"
            )
        return self


SourceConfig = Annotated[KafkaSourceConfig | FileSourceConfig | HttpSourceConfig, Field(discriminator="type")]
