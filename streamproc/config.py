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
      max_rows: 50000
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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts import ContractError
from contracts.modes import expand_mode_spec
from contracts.threshold import QuarantineThreshold
from streamproc.errors import ConfigError

__all__ = [
    "PipelineConfig",
    "KafkaSourceConfig",
    "FileSourceConfig",
    "SourceConfig",
    "SinkConfig",
    "BatchConfig",
    "ContractsConfig",
    "ObservabilityConfig",
    "LineageConfig",
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

    @field_validator("topics", mode="before")
    @classmethod
    def _one_topic_is_a_list(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value


class FileSourceConfig(_Frozen):
    """Where to read from: one NDJSON, CSV or Parquet file (a bounded source; the run ends at its end)."""

    type: Literal["file"]
    path: str = Field(description="the file; relative paths are relative to the config file")
    consumer_group: str = Field("file", description="names the exactly-once positions in the Delta log")


SourceConfig = Annotated[KafkaSourceConfig | FileSourceConfig, Field(discriminator="type")]


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


class ContractsConfig(_Frozen):
    """Where the contract registry finds contracts besides the pipeline's own module (older versions, other
    event types), see :class:`contracts.registry.ContractRegistry`."""

    packages: tuple[str, ...] = Field((), description="packages (walked recursively) or modules with contracts")
    entry_points: bool = Field(False, description="also load the 'streamproc.contracts' entry points")


class BatchConfig(_Frozen):
    """When a micro-batch closes: whichever limit is reached first."""

    max_rows: int = Field(50_000, gt=0, description="events per micro-batch")
    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="payload bytes per micro-batch")
    max_linger_seconds: float = Field(5.0, gt=0, description="seconds from a batch's first event to its close")
    queue_size: int = Field(8, gt=0, description="fetched chunks buffered between consumer and batcher")


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


class PipelineConfig(_Frozen):
    """One pipeline: a source, a contract, a sink, batching."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    contract: str = Field(description="module:Class of the contract")
    source: SourceConfig
    sink: SinkConfig
    batch: BatchConfig = BatchConfig()
    contracts: ContractsConfig = ContractsConfig()
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
    source = raw.get("source")
    if isinstance(source, dict) and source.get("type") == "file" and isinstance(source.get("path"), str):
        source["path"] = _resolve(source["path"], base_dir)
    lineage = raw.get("lineage")
    if isinstance(lineage, dict) and isinstance(lineage.get("outbox_dir"), str):
        lineage["outbox_dir"] = _resolve(lineage["outbox_dir"], base_dir)
    try:
        return PipelineConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {details}") from exc


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
