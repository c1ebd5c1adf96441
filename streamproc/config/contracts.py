"""Where events land and how contracts apply to them: the sink tables, routing by event type, PII, upcasting,
which contracts are known."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from streamproc.config.base import Frozen, RelativeToConfig

__all__ = ["SinkConfig", "RouteConfig", "RoutingConfig", "PiiConfig", "UpcastConfig", "ContractsConfig"]


class SinkConfig(Frozen):
    """Where to land: a Delta table, its quarantine table beside it, and the ``_loads`` table."""

    table_uri: RelativeToConfig = Field(description="the Delta table's location (a local path or a URL)")
    quarantine_uri: RelativeToConfig | None = Field(None, description="default: '<table_uri>__quarantine'")
    loads_uri: RelativeToConfig | None = Field(None, description="default: '_loads' beside the table")
    contracts_uri: RelativeToConfig | None = Field(
        None, description="the contract registry; default: '_contracts' beside _loads"
    )
    storage_options: dict[str, str] = Field(default_factory=dict)

    @property
    def table_name(self) -> str:
        """The table's logical name: the last segment of its location (it names the ``txn`` app ids)."""
        return self.table_uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def quarantine_name(self) -> str:
        """The quarantine table's logical name."""
        return self.resolved_quarantine_uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The location the table sits in (where a route's table goes by default)."""
        base = self.table_uri.rstrip("/")
        return base.rsplit("/", 1)[0] if "/" in base else "."

    def beside(self, table_uri: str | None, *, name: str) -> SinkConfig:
        """The sink of another table of the same pipeline (a route): ``table_uri``, default ``<folder>/<name>``,
        with its own quarantine table and this sink's ``_loads``, ``_contracts`` and storage options."""
        return SinkConfig(
            table_uri=table_uri or f"{self.folder}/{name}",
            loads_uri=self.resolved_loads_uri,
            contracts_uri=self.resolved_contracts_uri,
            storage_options=self.storage_options,
        )

    @property
    def resolved_quarantine_uri(self) -> str:
        return self.quarantine_uri or f"{self.table_uri.rstrip('/')}__quarantine"

    @property
    def resolved_resolutions_uri(self) -> str:
        """The quarantine's resolutions table (``streamproc quarantine replay``): ``<quarantine uri>_resolutions``."""
        return f"{self.resolved_quarantine_uri.rstrip('/')}_resolutions"

    @property
    def resolutions_name(self) -> str:
        """The resolutions table's logical name."""
        return self.resolved_resolutions_uri.rsplit("/", 1)[-1]

    @property
    def resolved_loads_uri(self) -> str:
        return self.loads_uri or f"{self.folder}/_loads"

    @property
    def resolved_contracts_uri(self) -> str:
        """The contract registry's ``_contracts`` table: ``contracts_uri``, default ``_contracts`` beside the table."""
        if self.contracts_uri:
            return self.contracts_uri
        return self.resolved_loads_uri.rstrip("/").rsplit("/", 1)[0] + "/_contracts"


class RouteConfig(Frozen):
    """One event type of a routed topic: its contract and its table."""

    contract: str = Field(description="module:Class of the route's contract")
    table_uri: RelativeToConfig | None = Field(
        None, description="default: beside sink.table_uri, named after the contract"
    )


class RoutingConfig(Frozen):
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


class PiiConfig(Frozen):
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


class UpcastConfig(Frozen):
    """Where an event says which contract version it was written under (see :mod:`contracts.upcast`): events of
    an older version are migrated to the pipeline's before validation."""

    header: str | None = Field("contract-version", description="a Kafka record header holding the version number")
    field: str | None = Field(
        None, description="a top-level event field holding it (the contract declares it; set to the new version)"
    )


class ContractsConfig(Frozen):
    """Where the contract registry finds contracts besides the pipeline's own module (older versions, other
    event types), see :class:`contracts.registry.ContractRegistry`."""

    packages: tuple[str, ...] = Field((), description="packages (walked recursively) or modules with contracts")
    entry_points: bool = Field(False, description="also load the 'streamproc.contracts' entry points")
