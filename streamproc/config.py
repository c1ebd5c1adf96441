"""The pipeline config: one YAML or TOML file, validated into frozen models. The only module that reads the
environment.

Example ``pipeline.yaml``::

    name: flights
    contract: flights_contract:Flight        # module:Class; the config file's folder is importable
    source:
      type: kafka
      bootstrap_servers: ${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}
      topics: [flights]
      consumer_group: streamproc-flights
    sink:
      table_uri: var/lake/flights             # relative paths are relative to the config file
    batch:
      max_rows: 20000
      max_bytes: 67108864
      max_linger_seconds: 5

``${VAR}`` and ``${VAR:-default}`` in string values are replaced from the environment; a ``${VAR}`` with neither a
value nor a default is an error.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from contracts import ContractError
from contracts.modes import expand_mode_spec
from contracts.threshold import QuarantineThreshold
from streamproc.errors import ConfigError

__all__ = [
    "PipelineConfig",
    "KafkaSourceConfig",
    "FileSourceConfig",
    "HttpSourceConfig",
    "HttpRouteConfig",
    "HttpGatewayConfig",
    "SourceConfig",
    "SinkConfig",
    "BatchConfig",
    "MaintenanceConfig",
    "ContractsConfig",
    "UpcastConfig",
    "PiiConfig",
    "RoutingConfig",
    "RouteConfig",
    "ObservabilityConfig",
    "LineageConfig",
    "MemoryConfig",
    "load_config",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSourceConfig(_Frozen):
    """Where to consume from: a Kafka consumer group (aiokafka)."""

    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str = Field(description="comma-separated host:port list")
    topics: tuple[str, ...] = Field(min_length=1)
    consumer_group: str
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="where a partition starts when neither the Delta log nor Kafka has a position"
    )
    fetch_max_records: int = Field(10_000, gt=0, description="records per fetch (aiokafka getmany max_records)")
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


class FileSourceConfig(_Frozen):
    """Where to read from: one NDJSON, CSV or Parquet file (a bounded source; the run ends at its end)."""

    type: Literal["file"]
    path: str = Field(description="the file; relative paths are relative to the config file")
    consumer_group: str = Field("file", description="names the exactly-once positions in the Delta log")


SEGMENT_CALL_TYPES: tuple[str, ...] = ("track", "identify", "page", "screen", "group", "alias")
"""The Segment Tracking API's call types (its ``type`` field), one ``/v1/<type>`` endpoint each."""


class HttpRouteConfig(_Frozen):
    """Where the events of one HTTP route land: a contract and its table (in gateway mode: its Kafka topic)."""

    contract: str = Field(description="module:Class of the contract")
    table_uri: str | None = Field(None, description="default: beside sink.table_uri, named after the contract")
    topic: str | None = Field(None, description="gateway mode: the topic (default: gateway.topic_prefix + table name)")


class HttpGatewayConfig(_Frozen):
    """Gateway mode: requests are produced to Kafka topics (aiokafka, ``acks=all``, idempotent) and acknowledged
    once the broker acknowledged them; ``streamproc run`` with a Kafka source lands them."""

    bootstrap_servers: str = Field(description="comma-separated host:port list")
    topic_prefix: str = Field("", description="a route's default topic is this prefix + its table name")
    topic: str | None = Field(None, description="the topic of the pipeline's own contract (default: prefix + table)")
    partitions: int = Field(3, gt=0, description="partitions of a topic the gateway creates")
    request_timeout_seconds: float = Field(30.0, gt=0, description="how long to wait for the broker's acks")
    linger_ms: int = Field(5, ge=0, description="aiokafka linger_ms: batching of concurrent requests")


class HttpSourceConfig(_Frozen):
    """Events arrive over HTTP: Segment's Tracking API (``/v1/batch``, ``/v1/track``, ...) and NDJSON/JSON
    ingestion (``/ingest/{contract}``), durable in a write-ahead log before the response (see
    :mod:`streamproc.ingest`). Each route (Segment call type, ``track:<event name>``) lands into its own contract's
    table; events of no route land into the pipeline's own ``contract``.
    """

    type: Literal["http"]
    host: str = Field("0.0.0.0", description="interface to listen on")  # noqa: S104 - a container's pod IP
    port: int = Field(8088, ge=0, le=65535, description="TCP port (0: any free port, logged at start)")
    public_url: str | None = Field(
        None, description="this endpoint's URL in the _source lineage column (default: http://<hostname>:<port>)"
    )
    wal_dir: str | None = Field(None, description="the write-ahead log's folder (required unless gateway)")
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
    write_keys_file: str | None = Field(None, description="a secrets file with one write key per line")
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

    @model_validator(mode="after")
    def _log_or_gateway(self) -> HttpSourceConfig:
        if self.gateway is None and not self.wal_dir:
            raise ValueError("wal_dir is required (or a gateway section, to produce to Kafka instead)")
        if self.require_write_key and not self.write_keys:
            raise ValueError("no write keys: set write_keys / write_keys_file, or require_write_key: false")
        return self


SourceConfig = Annotated[KafkaSourceConfig | FileSourceConfig | HttpSourceConfig, Field(discriminator="type")]


class SinkConfig(_Frozen):
    """Where to land: a Delta table, its quarantine table beside it, and the ``_loads`` table."""

    table_uri: str = Field(description="the Delta table's location (a local path or a URL)")
    quarantine_uri: str | None = Field(None, description="default: '<table_uri>__quarantine'")
    loads_uri: str | None = Field(None, description="default: '_loads' beside the table")
    contracts_uri: str | None = Field(None, description="the contract registry; default: '_contracts' beside _loads")
    storage_options: dict[str, str] = Field(default_factory=dict)

    @property
    def resolved_quarantine_uri(self) -> str:
        return self.quarantine_uri or f"{self.table_uri.rstrip('/')}__quarantine"

    @property
    def resolved_loads_uri(self) -> str:
        if self.loads_uri:
            return self.loads_uri
        parent = self.table_uri.rstrip("/").rsplit("/", 1)[0] if "/" in self.table_uri.rstrip("/") else "."
        return f"{parent}/_loads"

    @property
    def resolved_contracts_uri(self) -> str:
        """The contract registry's ``_contracts`` table: ``contracts_uri``, default ``_contracts`` beside the table."""
        if self.contracts_uri:
            return self.contracts_uri
        return self.resolved_loads_uri.rstrip("/").rsplit("/", 1)[0] + "/_contracts"


class RouteConfig(_Frozen):
    """One event type of a routed topic: its contract and its table."""

    contract: str = Field(description="module:Class of the route's contract")
    table_uri: str | None = Field(None, description="default: beside sink.table_uri, named after the contract")


class RoutingConfig(_Frozen):
    """Several event types on one topic: the value of a top-level discriminator field picks each event's contract
    and table (Segment: ``event``; often ``type``). Events no route matches go to the pipeline's own ``contract``
    and ``sink`` (the default route)."""

    field: str = Field(min_length=1, description="the top-level discriminator field")
    routes: dict[str, RouteConfig] = Field(min_length=1, description="field value → route")

    @field_validator("routes", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `order_placed: shop:OrderPlaced` means `order_placed: {contract: shop:OrderPlaced}`
        if isinstance(value, dict):
            return {k: {"contract": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


def _pii_secret_from_environment() -> SecretStr | None:
    value = os.environ.get("STREAMPROC_PII_SECRET")
    return SecretStr(value) if value else None


class PiiConfig(_Frozen):
    """The PII policy per tag (see :mod:`contracts.pii`); a contract's own ``pii=`` actions win."""

    actions: dict[str, Literal["keep", "hash", "mask", "drop"]] = Field(
        default_factory=dict, description="tag (email, phone, name, address, ip, id, location, free_text) → action"
    )
    secret: SecretStr | None = Field(
        default_factory=_pii_secret_from_environment,
        description="the HMAC key for hash (e.g. ${PII_SECRET}); default: $STREAMPROC_PII_SECRET",
    )
    keep_unparseable_in_quarantine: bool = Field(
        False, description="keep quarantined payloads that are not JSON objects (cannot be redacted by field)"
    )


class UpcastConfig(_Frozen):
    """Where an event says which contract version it was written under (see :mod:`contracts.upcast`): events of
    an older version are migrated to the pipeline's before validation."""

    header: str | None = Field("contract-version", description="a Kafka record header holding the version number")
    field: str | None = Field(
        None, description="a top-level event field holding it (the contract declares it; set to the new version)"
    )


class ContractsConfig(_Frozen):
    """Where the contract registry finds contracts besides the pipeline's own module (older versions, other
    event types), see :class:`contracts.registry.ContractRegistry`."""

    packages: tuple[str, ...] = Field((), description="packages (walked recursively) or modules with contracts")
    entry_points: bool = Field(False, description="also load the 'streamproc.contracts' entry points")


class BatchConfig(_Frozen):
    """When a micro-batch closes: whichever limit is reached first; and how much is fetched ahead of it.

    The defaults trade memory against the fixed cost of a load (three Delta commits and their log reads, ~25 ms of
    CPU). A batch is held at once as payloads, decoded values and its Arrow tables while it is validated and written
    (and the next one is prepared meanwhile), so peak RSS grows with ``max_rows``. Measured by ``bench/`` (issue 8)
    on 200,000 orders events of ~176 bytes, ``queue_size`` 2, the ``memory`` defaults, 3 interleaved runs each:

    ==========  ==========================  ===========================
    max_rows    file → Delta: RSS, CPU      Kafka → Delta: RSS, events/s
    ==========  ==========================  ===========================
    50,000      245-259 MiB, 0.83-0.97 s    263-268 MiB, 155-169k
    20,000      224-226 MiB, 0.97-1.08 s    227 MiB, 138-155k
    10,000      211 MiB, 1.24-1.28 s        210-212 MiB, 98-119k
    ==========  ==========================  ===========================

    20,000 keeps most of the saving for ~10-15 % of the throughput; set 10,000 where memory is tight (~15 MiB less
    for ~25 % more CPU), 50,000 for throughput. Every fetched chunk queued ahead (up to
    ``source.fetch_max_records`` events each) is held too: a queue of 2 instead of 8 saved ~14 MiB with 10,000-row
    batches and ~25 MiB with 50,000 at the same speed, one chunk being batched while the next is read (aiokafka
    keeps prefetching from the broker on its own). Raise ``max_rows`` (and ``max_linger_seconds``) for fewer, larger
    files when memory is plentiful, e.g. on object stores where each commit costs more.
    """

    max_rows: int = Field(20_000, gt=0, description="events per micro-batch")
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="payload bytes per micro-batch")
    max_linger_seconds: float = Field(5.0, gt=0, description="seconds from a batch's first event to its close")
    queue_size: int = Field(2, gt=0, description="fetched chunks buffered between consumer and batcher")


class ValidationConfig(_Frozen):
    """Where micro-batches are validated (:mod:`contracts.parallel`).

    In the pipeline's own process (``workers: 0``, the default), validation and consuming take turns on one core: both
    hold Python's GIL. With ``workers: 1`` each batch is validated in a worker process, on another core, while the
    event loop keeps consuming; the pipeline's process then only pays the transfer of the payloads and verdicts. Worth
    it with two or more free cores and a Kafka source running near its consumer's speed (see bench/RESULTS.md); it
    costs a second interpreter (~100 MiB resident) and 0.4-1.2 s to start it.
    """

    workers: int = Field(0, ge=0, le=8, description="validation worker processes (0: validate in-process)")
    start_method: Literal["spawn", "forkserver"] = Field(
        "spawn", description="how workers start (never fork: it would copy the event loop and consumer sockets)"
    )


class MemoryConfig(_Frozen):
    """Process-wide memory settings, applied by ``streamproc run`` (see :mod:`streamproc.memory` for the
    measurements behind the defaults)."""

    arrow_memory_pool: Literal["system", "mimalloc", "jemalloc"] | None = Field(
        "system",
        description="pyarrow's allocator: system (glibc malloc) returns each batch's memory, pyarrow's default "
        "mimalloc kept ~25 MiB more resident; null keeps pyarrow's own default (ARROW_DEFAULT_MEMORY_POOL)",
    )
    malloc_mmap_threshold_bytes: int | None = Field(
        128 * 1024,
        ge=0,
        le=32 * 1024 * 1024,
        description="glibc malloc's M_MMAP_THRESHOLD, fixed: larger blocks are mapped and given back when freed "
        "(~10 MiB less peak than glibc's self-raising threshold); null keeps glibc's (MALLOC_MMAP_THRESHOLD_)",
    )


class ObservabilityConfig(_Frozen):
    """The process's HTTP endpoint for Prometheus and probes: ``/metrics``, ``/healthz`` (alive), ``/readyz``
    (joined the consumer group, storage writable). See :mod:`streamproc.observability`."""

    enabled: bool = Field(True, description="serve /metrics, /healthz and /readyz")
    host: str = Field("0.0.0.0", description="interface to listen on")  # noqa: S104 - a container's pod IP
    port: int = Field(9108, ge=0, le=65535, description="TCP port (0: any free port, logged at start)")
    lag_interval_seconds: float = Field(5.0, gt=0, description="how often consumer lag per partition is sampled")


class LineageConfig(_Frozen):
    """OpenLineage events for the run (see :mod:`streamproc.lineage.observer`).

    Where events go is openlineage-python's own configuration (``openlineage.yml``, ``OPENLINEAGE_URL``,
    ``OPENLINEAGE__TRANSPORT__*``): http (the catalog, Marquez), file, console, kafka. Events wait in a durable
    outbox until the transport takes them.
    """

    enabled: bool = Field(False, description="emit OpenLineage events (START, RUNNING per load, COMPLETE/FAIL)")
    namespace: str = Field("streamproc", min_length=1, description="the job's OpenLineage namespace")
    emit: Literal["per_load", "every_n_seconds"] = Field(
        "per_load", description="a RUNNING event per load, or at most one per every_seconds summarising the loads"
    )
    every_seconds: float = Field(60.0, gt=0, description="with emit: every_n_seconds, the least seconds between them")
    outbox_dir: str | None = Field(
        None, description="where undelivered events wait (default: _lineage_outbox beside a local table)"
    )
    flush_timeout_seconds: float = Field(
        5.0,
        ge=0,
        description="at stop, how long to try delivering what is pending (the rest stays in the outbox); added to "
        "shutdown_grace_seconds, so keep both within Kubernetes' terminationGracePeriodSeconds",
    )
    retry_max_seconds: float = Field(60.0, gt=0, description="longest wait between delivery attempts")


class MaintenanceConfig(_Frozen):
    """Background upkeep of the table, its quarantine table and ``_loads`` (see :mod:`streamproc.sinks.maintenance`)."""

    enabled: bool = Field(True, description="run compaction, checkpoints and vacuum in the background")
    interval_seconds: float = Field(60.0, gt=0, description="how often the tables are checked")
    compact_min_files: int = Field(50, ge=1, description="compact a table once it has this many small files")
    target_file_size_bytes: int | None = Field(
        None, gt=0, description="compacted file size (default: the table's delta.targetFileSize, else 100 MiB)"
    )
    checkpoint: bool = Field(True, description="checkpoint and clean up expired log entries after a compaction")
    vacuum_interval_seconds: float = Field(86_400.0, gt=0, description="how often unreferenced files are deleted")
    vacuum_retention_hours: int = Field(
        168,
        ge=0,
        description="keep unreferenced files this long (time travel; other writers' uncommitted files): keep it "
        "well above the longest commit",
    )


class PipelineConfig(_Frozen):
    """One pipeline: a source, a contract, a sink, batching."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    contract: str = Field(description="module:Class of the contract")
    source: SourceConfig
    sink: SinkConfig
    batch: BatchConfig = BatchConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    contracts: ContractsConfig = ContractsConfig()
    upcast: UpcastConfig = UpcastConfig()
    pii: PiiConfig = Field(default_factory=PiiConfig)
    routing: RoutingConfig | None = None
    quarantine_threshold: float | dict[str, float] | None = Field(
        None,
        description="fail a load when more than this percent of a batch would be quarantined (or {max_percent, "
        "min_events}); a contract's own quarantine_threshold wins",
    )
    contract_mode: str | dict[str, str] | None = Field(
        None,
        description="dlt contract modes for the entities the contract's own mode= leaves unset (a mode, or "
        "entity → mode); precedence: field override > contract > this > defaults",
    )
    shutdown_grace_seconds: float = Field(25.0, gt=0, description="SIGTERM → flushed, committed and left the group")
    observability: ObservabilityConfig = ObservabilityConfig()
    lineage: LineageConfig = LineageConfig()
    memory: MemoryConfig = MemoryConfig()
    validation: ValidationConfig = ValidationConfig()
    base_dir: Path = Field(Path("."), exclude=True, description="the config file's folder")

    @field_validator("quarantine_threshold")
    @classmethod
    def _valid_threshold(cls, value: float | dict[str, float] | None) -> float | dict[str, float] | None:
        try:
            QuarantineThreshold.parse(value)
        except ContractError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("contract_mode")
    @classmethod
    def _known_modes(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        try:
            expand_mode_spec(value)  # type: ignore[arg-type]
        except ContractError as exc:
            raise ValueError(str(exc)) from None
        return value


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(path: str | Path, *, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read, expand and validate a pipeline config file (``.yaml``/``.yml`` or ``.toml``).

    Relative local paths in ``sink`` are made relative to the file's folder.

    Raises:
        ConfigError: the file is missing or unparsable, a variable is unset, or a field is invalid (every error
            is listed with its field path).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read pipeline config {path}: {exc.strerror}") from exc
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path} is not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    raw = _expand(raw, path)
    for dotted, value in (overrides or {}).items():
        _set(raw, dotted, value)
    base_dir = path.resolve().parent
    sink = raw.get("sink")
    if isinstance(sink, dict):
        for key in ("table_uri", "quarantine_uri", "loads_uri", "contracts_uri"):
            if isinstance(sink.get(key), str):
                sink[key] = _resolve(sink[key], base_dir)
    routing = raw.get("routing")
    if isinstance(routing, dict) and isinstance(routing.get("routes"), dict):
        for route in routing["routes"].values():
            if isinstance(route, dict) and isinstance(route.get("table_uri"), str):
                route["table_uri"] = _resolve(route["table_uri"], base_dir)
    source = raw.get("source")
    if isinstance(source, dict) and source.get("type") == "file" and isinstance(source.get("path"), str):
        source["path"] = _resolve(source["path"], base_dir)
    if isinstance(source, dict) and source.get("type") == "http":
        _resolve_http_source(source, base_dir, path)
    lineage = raw.get("lineage")
    if isinstance(lineage, dict) and isinstance(lineage.get("outbox_dir"), str):
        lineage["outbox_dir"] = _resolve(lineage["outbox_dir"], base_dir)
    try:
        return PipelineConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {details}") from exc


def _resolve_http_source(source: dict[str, Any], base_dir: Path, path: Path) -> None:
    """Resolve the HTTP source's paths and read its write keys file (secrets are read here only, never logged)."""
    if isinstance(source.get("wal_dir"), str):
        source["wal_dir"] = _resolve(source["wal_dir"], base_dir)
    for route in (source.get("routes") or {}).values():
        if isinstance(route, dict) and isinstance(route.get("table_uri"), str):
            route["table_uri"] = _resolve(route["table_uri"], base_dir)
    keys = source.get("write_keys") or []
    source["write_keys"] = [keys] if isinstance(keys, str) else list(keys)
    if isinstance(source.get("write_keys_file"), str):
        source["write_keys_file"] = secrets = _resolve(source["write_keys_file"], base_dir)
        try:
            lines = Path(secrets).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read source.write_keys_file {secrets}: {exc.strerror}") from exc
        source["write_keys"] += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    source["write_keys"] = [key for key in source["write_keys"] if key]


def _expand(value: Any, path: Path) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, path) for v in value]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is not None:
                return found
            if default is not None:
                return default
            raise ConfigError(f"{path}: environment variable {name} is not set and has no default")

        return _VARIABLE.sub(replace, value)
    return value


def _set(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _resolve(uri: str, base_dir: Path) -> str:
    if "://" in uri or Path(uri).is_absolute():
        return uri
    return str((base_dir / uri).resolve())
