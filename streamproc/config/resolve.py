"""The contracts a pipeline config names, loaded, with the table each one lands into: the one way every command that
takes a CONFIG (``run``, ``positions``, ``lineage``, ``contracts --config``, the HTTP source, Faust) resolves them.

A contract reference is ``module:Class``; the config file's folder is importable (as ``python`` makes a script's
folder importable), so a contract module may sit beside the config. This module is the only place that puts it on
``sys.path``.

Example::

    config = load_config("pipeline.yaml")
    contracts = resolve_contracts(config)
    for route in contracts.routes:          # the pipeline's own contract first, then each routing route
        print(route.contract.__contract__.name, route.sink.table_uri)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from contracts import Contract, load_contract
from contracts.modes import ResolvedModes, resolve_modes
from streamproc.errors import ConfigError

if TYPE_CHECKING:
    from streamproc.config import PipelineConfig, SinkConfig

__all__ = ["PipelineContracts", "Route", "import_contract", "resolve_contracts"]


@dataclass(frozen=True, eq=False)
class Route:
    """One contract of a pipeline and the tables it lands into.

    Attributes:
        value: the discriminator value that selects it (``routing.routes`` key); ``None`` for the pipeline's own
            contract (the default route: events of no route, and every event without routing).
        contract: the contract class; modes: the modes in force for it (field > contract > ``contract_mode``).
        sink: its table, quarantine table, and the pipeline's shared ``_loads`` / ``_contracts``.
    """

    value: str | None
    contract: type[Contract]
    modes: ResolvedModes
    sink: SinkConfig

    @property
    def table_name(self) -> str:
        return self.sink.table_name


@dataclass(frozen=True, eq=False)
class PipelineContracts:
    """Every contract of a pipeline: the default route, then one per routing value (config order).

    Attributes:
        routes: the default route first.
        field: the routing discriminator (``routing.field``), ``None`` without routing.
    """

    routes: tuple[Route, ...]
    field: str | None = None

    @property
    def default(self) -> Route:
        return self.routes[0]

    @property
    def by_value(self) -> dict[str, Route]:
        """Routing value → route (the default route is not among them)."""
        return {r.value: r for r in self.routes if r.value is not None}

    @property
    def classes(self) -> list[type[Contract]]:
        """Every contract class, the default route's first."""
        return [r.contract for r in self.routes]


def import_contract(config: PipelineConfig, reference: str) -> type[Contract]:
    """The contract ``module:Class`` named in ``config``, imported with the config file's folder importable.

    Raises:
        ContractNotFoundError: the reference is malformed, or the module or class cannot be found.
    """
    folder = str(config.base_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return load_contract(reference)


def resolve_contracts(config: PipelineConfig) -> PipelineContracts:
    """Import the pipeline's contract and each routing route's, and place each route's table (``routing.routes.<v>.
    table_uri``, default beside ``sink.table_uri`` named after the contract).

    Raises:
        ContractNotFoundError: a contract cannot be imported.
        ConfigError: two routes land into tables of the same name (the name is part of the ``txn`` app ids).
    """
    contract = import_contract(config, config.contract)
    routes = [Route(None, contract, resolve_modes(contract, config.contract_mode), config.sink)]
    if config.routing is not None:
        for value, route in config.routing.routes.items():
            routed = import_contract(config, route.contract)
            sink = config.sink.beside(route.table_uri, name=routed.__contract__.name)
            routes.append(Route(value, routed, resolve_modes(routed, config.contract_mode), sink))
    names = [r.table_name for r in routes]
    if len(set(names)) != len(names):
        raise ConfigError(f"routed tables must have distinct names (they name the txn app ids): {names}")
    return PipelineContracts(tuple(routes), config.routing.field if config.routing is not None else None)
