"""A pipeline's contract registry: the contracts it can load, with their history in the lake's ``_contracts`` table.

At start the pipeline registers every declared version of its contract's name, oldest first: unchanged versions
are no-ops, a changed or incompatible one stops the run before anything is consumed (exit code 2).
"""

from __future__ import annotations

from contracts import Contract, load_contract
from contracts.registry import ContractRegistry
from streamproc.config import PipelineConfig
from streamproc.sinks.contracts_table import DeltaContractStore

__all__ = ["open_registry"]


def open_registry(config: PipelineConfig, contract: type[Contract], *, register: bool = True) -> ContractRegistry:
    """The registry of ``config``'s contracts: the modules of its contract and of its routes' contracts,
    ``contracts.packages`` and (if enabled) the ``streamproc.contracts`` entry points, persisted in
    ``sink.resolved_contracts_uri``. Registers every declared version of those contracts' names.

    Blocking (imports, Delta I/O): call from a worker thread in async code.

    Raises:
        ContractNotFoundError: a configured package or entry point cannot be imported.
        ContractConflictError: a registered version changed without a new number.
        IncompatibleContractError: a new version breaks its compatibility level.
        StorageUnavailableError: the ``_contracts`` table cannot be read or written.
    """
    routed = [load_contract(route.contract) for route in config.routing.routes.values()] if config.routing else []
    registry = ContractRegistry.discover(
        packages=config.contracts.packages,
        modules=list(dict.fromkeys(c.__module__ for c in [contract, *routed])),
        entry_points=config.contracts.entry_points,
        store=DeltaContractStore(config.sink.resolved_contracts_uri, storage_options=config.sink.storage_options),
    )
    for each in [contract, *routed]:
        registry.add(each)
    if register:
        for name in dict.fromkeys(c.__contract__.name for c in [contract, *routed]):
            registry.register_declared(name)
    return registry
