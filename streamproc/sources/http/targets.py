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
named and placed as :mod:`streamproc.validation.routing` places a routed pipeline's: this is the same contract routing, with
Segment's two-level discriminator (``type``, then ``event`` for track calls). A ``routing:`` section (a discriminator
field) applies to the default target's events only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts import Contract
from contracts.modes import ResolvedModes
from streamproc.config import HttpRouteConfig, HttpSourceConfig, PipelineConfig, SinkConfig
from streamproc.config.resolve import PipelineContracts, import_contract, resolve_contracts
from streamproc.errors import ConfigError
from streamproc.sources.http.segment import route_key

__all__ = ["Router", "Target", "resolve_targets"]


@dataclass(frozen=True, eq=False)
class Target:
    """One destination of the HTTP source.

    Attributes:
        name: the table's name; also the log stream's name and the ``/ingest/{name}`` path segment.
        config: the pipeline config that lands it (its own name, contract and table).
        contracts: its config's contracts, resolved (the default target's may route by a discriminator too).
        topic: the Kafka topic in gateway mode (else ``None``).
    """

    name: str
    config: PipelineConfig
    contracts: PipelineContracts
    topic: str | None = None

    @property
    def contract(self) -> type[Contract]:
        """The target's contract class."""
        return self.contracts.default.contract

    @property
    def modes(self) -> ResolvedModes:
        """The modes in force for it."""
        return self.contracts.default.modes

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

    Blocking (imports). Contracts are imported as every command imports them
    (:func:`streamproc.config.resolve.resolve_contracts`).

    Raises:
        ConfigError: the source is not HTTP, or two routes give one table two contracts.
        ContractError: a contract cannot be imported.
    """
    source = config.source
    if not isinstance(source, HttpSourceConfig):
        raise ConfigError(f"pipeline {config.name}: not an HTTP source")
    default_name = config.sink.table_name
    default = Target(
        default_name,
        config,
        resolve_contracts(config),
        _topic(source, default_name, source.gateway.topic if source.gateway else None),
    )
    targets: dict[str, Target] = {default.name: default}
    routes: dict[str, Target] = {}
    for key, route in source.routes.items():
        contract = import_contract(config, route.contract)
        sink = config.sink.beside(route.table_uri, name=contract.__contract__.name)
        target = targets.get(sink.table_name)
        if target is None:
            target = targets[sink.table_name] = _route_target(config, route, sink)
        elif target.contract is not contract or target.config.sink.table_uri != sink.table_uri:
            raise ConfigError(
                f"pipeline {config.name}: route {key!r} lands {route.contract} into {sink.table_uri}, but a table "
                f"named {sink.table_name!r} is already {target.config.sink.table_uri} for "
                f"{target.contract.__module__}:{target.contract.__qualname__} (table names must be distinct)"
            )
        routes[key] = target
    return Router(default=default, targets=targets, routes=routes)


def _route_target(config: PipelineConfig, route: HttpRouteConfig, sink: SinkConfig) -> Target:
    name = sink.table_name
    # A discriminator routing (``routing:``) is the default target's alone.
    derived = config.model_copy(update={"name": f"{config.name}.{name}", "contract": route.contract, "sink": sink,
                                        "routing": None})
    source = config.source
    assert isinstance(source, HttpSourceConfig)  # noqa: S101 - resolve_targets checked
    return Target(name, derived, resolve_contracts(derived), _topic(source, name, route.topic))


def _topic(source: HttpSourceConfig, name: str, explicit: str | None) -> str | None:
    if source.gateway is None:
        return None
    return explicit or f"{source.gateway.topic_prefix}{name}"
