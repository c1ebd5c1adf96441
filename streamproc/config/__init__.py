"""The pipeline config: one YAML or TOML file, validated into frozen models. The only package that reads the
environment.

Modules: :mod:`~streamproc.config.sources` (Kafka, file, HTTP), :mod:`~streamproc.config.contracts` (sink tables,
routing, PII, upcasting, contract packages), :mod:`~streamproc.config.runtime` (batching, validation workers, memory,
observability, lineage, maintenance); :class:`PipelineConfig` and :func:`load_config` here. Import from here.

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

``${VAR}`` and ``${VAR:-default}`` in string values are replaced from the environment (in YAML, flow style included:
:mod:`~streamproc.config.variables`); a ``${VAR}`` with neither a value nor a default is an error.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, ValidationError, field_validator
from pydantic_core import ErrorDetails

from contracts import ContractError
from contracts.modes import ContractModes
from contracts.threshold import QuarantineThreshold
from streamproc.config.base import BASE_DIR, Frozen
from streamproc.config.contracts import (
    ContractsConfig,
    PiiConfig,
    RouteConfig,
    RoutingConfig,
    SinkConfig,
    UpcastConfig,
)
from streamproc.config.keys import missing_tag_message, unknown_key_message
from streamproc.config.runtime import (
    BatchConfig,
    LineageConfig,
    MaintenanceConfig,
    MemoryConfig,
    ObservabilityConfig,
    ValidationConfig,
)
from streamproc.config.sources import (
    SEGMENT_CALL_TYPES,
    FileSourceConfig,
    HttpGatewayConfig,
    HttpRouteConfig,
    HttpSourceConfig,
    KafkaSourceConfig,
    SourceConfig,
)
from streamproc.config.variables import expand, parse_yaml
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
    "ValidationConfig",
    "load_config",
    "SEGMENT_CALL_TYPES",
]


def _parse_modes(value: Any) -> ContractModes | None:
    if value is None or isinstance(value, ContractModes):
        return value
    try:
        return ContractModes.parse(value)
    except ContractError as exc:
        raise ValueError(str(exc)) from None


ContractModeSpec = Annotated[
    ContractModes | None,
    BeforeValidator(_parse_modes),
    PlainSerializer(lambda modes: modes.as_dict() if modes is not None else None),
]
"""``contract_mode``: a mode, or entity → mode, parsed once into :class:`contracts.modes.ContractModes` (entities
left unset take dlt-style defaults: ``tables: evolve``, ``discard_row`` otherwise)."""


class PipelineConfig(Frozen):
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
    contract_mode: ContractModeSpec = Field(
        None,
        description="dlt contract modes for the entities the contract's own mode= leaves unset (a mode, or "
        "entity → mode); precedence: field override > contract > this > defaults",
    )
    shutdown_grace_seconds: float = Field(
        25.0,
        gt=0,
        description="SIGTERM → flushed, committed and left the group; a broker that stops answering does not stretch "
        "it (the consumer is then abandoned, the Delta log keeping the positions)",
    )
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
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
    if path.suffix == ".toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    else:
        raw = parse_yaml(text, path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    raw = expand(raw, path)
    for dotted, value in (overrides or {}).items():
        _set(raw, dotted, value)
    base_dir = path.resolve().parent
    try:
        # Relative local paths are resolved against the file's folder by the fields' validators (RelativeToConfig).
        return PipelineConfig.model_validate({**raw, "base_dir": base_dir}, context={BASE_DIR: base_dir})
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {_message(e)}" for e in exc.errors())
        raise ConfigError(f"{path}: {details}") from exc


def _message(error: ErrorDetails) -> str:
    """pydantic's message for one error, or ours where its words do not tell a newcomer what to write."""
    if error["type"] == "extra_forbidden":
        return unknown_key_message(PipelineConfig, error["loc"])
    if error["type"] == "union_tag_not_found":
        return missing_tag_message(PipelineConfig, error["loc"])
    return error["msg"]


def _set(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
