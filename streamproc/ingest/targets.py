"""Where the HTTP source's events go: one target (contract, table, log stream or Kafka topic) per route.

A pipeline config with an HTTP source names its own ``contract`` (the *default* target: events of no route, and
``/ingest/<its name>``) and ``source.routes`` (Segment call types and ``track:<event name>`` → contract). Each target
lands as a pipeline of its own, so the table, its quarantine, the metrics and the OpenLineage job all name the right
contract:

=============== ======================================== ==========================================================
                default target                           a route's target
=============== ======================================== ==========================================================
table           ``sink.table_uri``                       ``route.table_uri``, default ``<folder of
                                                         sink.table_uri>/<the contract's name>``
pipeline name   ``name``                                 ``<name>.<table name>``
log stream      the table's name                         the table's name
gateway topic   ``gateway.topic`` or prefix + table      ``route.topic`` or ``gateway.topic_prefix`` + table
=============== ======================================== ==========================================================

``_loads`` and ``_contracts`` are shared (the pipeline's). Routes naming the same table share a target. Tables are
named and placed as :mod:`streamproc.routing` places a routed pipeline's: this is the same contract routing, with
Segment's two-level discriminator (``type``, then ``event`` for track calls). A ``routing:`` section (a discriminator
field) applies to the default target's events only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from contracts import Contract, load_contract
from contracts.modes import ResolvedModes, resolve_modes
from streamproc.config import HttpRouteConfig, HttpSourceConfig, PipelineConfig
from streamproc.errors import ConfigError
from streamproc.ingest.segment import route_key
from streamproc.landing import table_name_of

__all__ = ["Router", "Target", "resolve_targets"]


@dataclass(frozen=True, eq=False)
class Target:
    """One destination of the HTTP source.

    Attributes:
        name: the table's name; also the log stream's name and the ``/ingest/{name}`` path segment.
        contract: the contract class; ``modes``: the modes in force for it.
        config: the pipeline config that lands it (its own name, contract and table).
        topic: the Kafka topic in gateway mode (else ``None``).
    """

    name: str
    contract: type[Contract]
    modes: ResolvedModes
    config: PipelineConfig
    topic: str | None = None

    @property
    def freeze(self) -> bool:
        """Some entity or field of the contract is ``freeze``: requests are validated before they are accepted."""
        contract = self.modes.contract
        return "freeze" in (contract.columns, contract.data_type) or any(
            "freeze" in o.values() for o in self.modes.fields.values()
        )


@dataclass(frozen=True)
class Router:
    """Which target an event goes to.

    Attributes:
        default: the pipeline's own contract.
        targets: every target by name, the default first.
        routes: route key (``track``, ``track:Order Completed``, ``identify``, ...) → target.
    """

    default: Target
    targets: dict[str, Target]
    routes: dict[str, Target]

    def for_segment(self, event: dict[str, Any]) -> Target:
        """The target of a Segment event: its ``track:<event>`` route, else its type's route, else the default."""
        specific, kind = route_key(event)
        return self.routes.get(specific) or self.routes.get(kind) or self.default

    def for_ingest(self, name: str) -> Target | None:
        """The target of ``/ingest/{name}``: a target's table name or its contract's name."""
        if name in self.targets:
            return self.targets[name]
        return next((t for t in self.targets.values() if t.contract.__contract__.name == name), None)


def resolve_targets(config: PipelineConfig) -> Router:
    """Load the contracts of the pipeline and its routes, and derive each target's pipeline config.

    Blocking (imports). The config file's folder is made importable, as ``streamproc run`` does.

    Raises:
        ConfigError: the source is not HTTP, or two routes give one table two contracts.
        ContractError: a contract cannot be imported.
    """
    source = config.source
    if not isinstance(source, HttpSourceConfig):
        raise ConfigError(f"pipeline {config.name}: not an HTTP source")
    if str(config.base_dir) not in sys.path:
        sys.path.insert(0, str(config.base_dir))
    default_contract = load_contract(config.contract)
    default_name = table_name_of(config.sink.table_uri)
    default = Target(
        default_name,
        default_contract,
        resolve_modes(default_contract, config.contract_mode),  # type: ignore[arg-type]
        config,
        _topic(source, default_name, source.gateway.topic if source.gateway else None),
    )
    targets: dict[str, Target] = {default.name: default}
    routes: dict[str, Target] = {}
    for key, route in source.routes.items():
        contract = load_contract(route.contract)
        uri = route.table_uri or f"{_folder(config.sink.table_uri)}/{contract.__contract__.name}"
        name = table_name_of(uri)
        target = targets.get(name)
        if target is None:
            target = targets[name] = _route_target(config, route, uri, contract)
        elif target.contract is not contract or target.config.sink.table_uri != uri:
            raise ConfigError(
                f"pipeline {config.name}: route {key!r} lands {route.contract} into {uri}, but a table named "
                f"{name!r} is already {target.config.sink.table_uri} for "
                f"{target.contract.__module__}:{target.contract.__qualname__} (table names must be distinct)"
            )
        routes[key] = target
    return Router(default=default, targets=targets, routes=routes)


def _folder(table_uri: str) -> str:
    base = table_uri.rstrip("/")
    return base.rsplit("/", 1)[0] if "/" in base else "."


def _route_target(config: PipelineConfig, route: HttpRouteConfig, uri: str, contract: type[Contract]) -> Target:
    sink = config.sink
    name = table_name_of(uri)
    update: dict[str, Any] = {
        "name": f"{config.name}.{name}",
        "contract": route.contract,
        "sink": sink.model_copy(
            update={
                "table_uri": uri,
                "quarantine_uri": None,
                "loads_uri": sink.resolved_loads_uri,
                "contracts_uri": sink.resolved_contracts_uri,
            }
        ),
    }
    if "routing" in type(config).model_fields:  # a discriminator routing is the default target's alone
        update["routing"] = None
    derived = config.model_copy(update=update)
    modes = resolve_modes(contract, config.contract_mode)  # type: ignore[arg-type]
    source = config.source
    assert isinstance(source, HttpSourceConfig)
    return Target(name, contract, modes, derived, _topic(source, name, route.topic))


def _topic(source: HttpSourceConfig, name: str, explicit: str | None) -> str | None:
    if source.gateway is None:
        return None
    return explicit or f"{source.gateway.topic_prefix}{name}"
