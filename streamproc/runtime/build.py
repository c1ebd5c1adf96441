"""Building a run's parts from its config: contracts, registry, source, validation workers, preparer and committer.

A function, not a constructor: :class:`~streamproc.runtime.pipeline.Pipeline` receives what this builds, and tests
and embedding code can build the landing parts alone (:func:`landing_parts`) and drive ``prepare`` / ``commit``
the way the pipeline does.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from contracts.registry import ContractRegistry
from streamproc.config import KafkaSourceConfig, PipelineConfig
from streamproc.config.resolve import PipelineContracts, resolve_contracts
from streamproc.errors import SourceError
from streamproc.lineage.loads import LOADS_SCHEMA
from streamproc.sinks.committer import Committer
from streamproc.sinks.contracts_table import DeltaContractStore
from streamproc.sinks.delta import DeltaTableWriter
from streamproc.sinks.quarantine import QUARANTINE_SCHEMA
from streamproc.sinks.txn import RouteTables
from streamproc.sources import open_source
from streamproc.sources.base import Source
from streamproc.validation.prepare import LoadPreparer, TablePreparer
from streamproc.validation.routing import Router
from streamproc.validation.stage import ContractStage, StageOptions, accepted_version

if TYPE_CHECKING:
    from streamproc.validation.pool import ValidationPool

__all__ = ["RECORD_LOADS_EVERY", "Landing", "RunParts", "build_parts", "landing_parts", "open_registry"]

RECORD_LOADS_EVERY = 8
"""How many loads' ``_loads`` rows a running pipeline records in one ``_loads`` commit at most (each row waits a
second at most, and no longer than the commit stage stays busy: runtime/checkpoint.py). One ``_loads`` commit per
load cost ~10 % of the file → Delta path's throughput on 20,000-row loads of the orders benchmark (bench/analysis.md);
eight rows a commit leave a crash at most eight rows for recovery to rebuild from the data tables' commits."""

logger = logging.getLogger(__name__)


def open_registry(config: PipelineConfig, contracts: PipelineContracts, *, register: bool = True) -> ContractRegistry:
    """The registry of ``config``'s contracts: the modules of its routes' contracts, ``contracts.packages`` and (if
    enabled) the ``streamproc.contracts`` entry points, persisted in ``sink.resolved_contracts_uri``. Registers every
    declared version of those contracts' names.

    Blocking (imports, Delta I/O): call from a worker thread in async code.

    Raises:
        ContractNotFoundError: a configured package or entry point cannot be imported.
        ContractConflictError: a registered version changed without a new number.
        IncompatibleContractError: a new version breaks its compatibility level.
        StorageUnavailableError: the ``_contracts`` table cannot be read or written.
    """
    classes = contracts.classes
    registry = ContractRegistry.discover(
        packages=config.contracts.packages,
        modules=list(dict.fromkeys(c.__module__ for c in classes)),
        entry_points=config.contracts.entry_points,
        store=DeltaContractStore(config.sink.resolved_contracts_uri, storage_options=config.sink.storage_options),
    )
    for each in classes:
        registry.add(each)
    if register:
        for name in dict.fromkeys(c.__contract__.name for c in classes):
            registry.register_declared(name)
    return registry


@dataclass(frozen=True, eq=False)
class Landing:
    """The landing parts of a pipeline: the preparer (validation; touches no table) and the committer (the tables).

    Lifecycle: :meth:`open` once (blocking: creates or checks the tables), then ``preparer.prepare`` /
    ``committer.commit``.
    """

    preparer: LoadPreparer
    committer: Committer

    def open(self) -> None:
        """Create or check every table, then tell each contract stage its table's schema (evolved columns).

        Raises:
            SchemaMismatchError: an existing table does not match its contract.
            StorageUnavailableError: a location cannot be read or written.
        """
        # The contracts' validation plans compile while delta-rs opens the tables (outside the GIL): the first
        # micro-batch then does not pay for them.
        with ThreadPoolExecutor(1, thread_name_prefix="tables-open") as opening:
            opened = opening.submit(self.committer.open)
            for table in self.preparer.tables:
                table.stage.compile()
        opened.result()
        for table in self.preparer.tables:
            table.stage.open(self.committer.routes[table.route.table_name].table.schema)


def landing_parts(
    contracts: PipelineContracts,
    *,
    pipeline: str,
    consumer_group: str,
    run_id: str,
    source_uris: dict[str, str],
    registry: ContractRegistry | None = None,
    options: StageOptions | None = None,
    pool: ValidationPool | None = None,
    record_every: int = 1,
    record_within_seconds: float = 1.0,
) -> Landing:
    """The preparer and committer of a pipeline's routes (not yet open: :meth:`Landing.open`).

    Args:
        contracts: the routes (:func:`streamproc.config.resolve.resolve_contracts`).
        pipeline, consumer_group, run_id: what every load and ``txn`` app id names.
        source_uris: topic → ``_source`` lineage value.
        registry: where inferred versions are recorded; ``None``: rows keep their declared versions.
        options: thresholds, upcasting and PII settings of the config.
        pool: validation worker processes (``None``: validate in this process).
        record_every: how many loads' ``_loads`` rows one ``_loads`` commit holds at most (1: each load's own
            commit; :class:`~streamproc.sinks.committer.Committer`).
        record_within_seconds: how long a waiting row waits for its group at most, from its load's commit.
    """
    tables: list[TablePreparer] = []
    routes: list[RouteTables] = []
    loads: dict[str, DeltaTableWriter] = {}
    for route in contracts.routes:
        stage = ContractStage(route.contract, modes=route.modes, registry=registry, options=options, pool=pool)
        tables.append(
            TablePreparer(
                route, stage, pipeline=pipeline, consumer_group=consumer_group, run_id=run_id, source_uris=source_uris
            )
        )
        sink, storage = route.sink, route.sink.storage_options
        shared = loads.setdefault(
            sink.resolved_loads_uri,
            DeltaTableWriter(sink.resolved_loads_uri, LOADS_SCHEMA, name="_loads", storage_options=storage),
        )
        routes.append(
            RouteTables(
                consumer_group,
                sink.table_name,
                quarantine=DeltaTableWriter(
                    sink.resolved_quarantine_uri, QUARANTINE_SCHEMA, name=sink.quarantine_name, storage_options=storage
                ),
                table=DeltaTableWriter(
                    sink.table_uri,
                    stage.table_schema(),
                    name=sink.table_name,
                    add_nullable_columns=accepted_version(registry, route.contract),
                    storage_options=storage,
                ),
                loads=shared,
            )
        )
    committer = Committer(routes, record_every=record_every, record_within_seconds=record_within_seconds)
    return Landing(LoadPreparer(tables, router=Router.of(contracts)), committer)


@dataclass(frozen=True, eq=False)
class RunParts:
    """Everything one pipeline run needs, built from its config (:func:`build_parts`).

    Attributes:
        contracts: every route's contract and tables.
        registry: the contract registry (``_contracts``).
        source: the source, not yet started.
        landing: the preparer and committer, tables open.
        pool: the validation worker processes (``None``: in-process); :meth:`close` stops them.
    """

    contracts: PipelineContracts
    registry: ContractRegistry
    source: Source
    landing: Landing
    pool: ValidationPool | None

    async def close(self) -> None:
        """Stop the validation workers (shielded from cancellation)."""
        if self.pool is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.pool.close)


async def _require_topics(kafka: KafkaSourceConfig) -> None:
    """Refuse a subscribed topic that does not exist (``--until-caught-up``: there is no end offset to reach).

    Raises:
        SourceError: naming the missing topics and what to do.
        SourceUnavailableError: the broker cannot be reached.
    """
    from streamproc.sources.kafka.admin import topic_partitions  # the Kafka client only for a Kafka source

    present = {tp.topic for tp in await topic_partitions(kafka.bootstrap_servers, kafka.topics, missing_ok=True)}
    missing = [topic for topic in kafka.topics if topic not in present]
    if missing:
        names = ", ".join(repr(topic) for topic in missing)
        raise SourceError(
            f"topic {names} does not exist on the Kafka broker at {kafka.bootstrap_servers}: there is nothing to "
            f"catch up with. Check source.topics, or produce into it first (streamproc replay FILE --topic "
            f"{missing[0]}); without --until-caught-up a run waits for the topic to be created"
        )


async def build_parts(
    config: PipelineConfig,
    *,
    run_id: str,
    source: Source | None = None,
    contracts: PipelineContracts | None = None,
    until_caught_up: bool = False,
) -> RunParts:
    """Load the contracts and the registry, start the validation workers, and open the tables.

    Args:
        run_id: the run's id (every load names it).
        source: the source to consume (default: the one the config names, :func:`streamproc.sources.open_source`).
        contracts: the config's contracts if already resolved.
        until_caught_up: the run stops once caught up, so every subscribed Kafka topic must exist already (a
            topic created later would leave nothing to catch up with, and the run would wait for it for ever).

    Raises:
        SourceUnavailableError, SourceError: the source cannot be read (checked before any table is touched);
            with ``until_caught_up``, a subscribed Kafka topic does not exist.
        ContractError: a contract or the registry refused (not found, changed under a registered version, ...).
        SchemaMismatchError: an existing table does not match its contract.
        StorageUnavailableError: a table cannot be read or written.
        ValidationWorkerError: a validation worker died while starting.
    """
    if contracts is None:
        contracts = await anyio.to_thread.run_sync(resolve_contracts, config)
    source = source if source is not None else open_source(config)
    await source.check()  # before any table (``_contracts`` included) is created: a run that cannot read lands nothing
    if until_caught_up and isinstance(config.source, KafkaSourceConfig):
        await _require_topics(config.source)
    registry = await anyio.to_thread.run_sync(functools.partial(open_registry, config, contracts))
    pool = await _start_validation_pool(config, contracts.classes)
    try:
        landing = landing_parts(
            contracts,
            pipeline=config.name,
            consumer_group=config.source.consumer_group,
            run_id=run_id,
            source_uris=source.source_uris,
            registry=registry,
            options=StageOptions.from_config(config),
            pool=pool,
            record_every=RECORD_LOADS_EVERY,
        )
        await anyio.to_thread.run_sync(landing.open)
    except BaseException:
        if pool is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(pool.close)
        raise
    return RunParts(contracts, registry, source, landing, pool)


async def _start_validation_pool(config: PipelineConfig, contracts: Sequence[type]) -> ValidationPool | None:
    """The worker processes that validate batches (``validation.workers``), started before anything is consumed;
    ``None`` to validate in this process."""
    settings = config.validation
    if not settings.workers:
        return None
    from streamproc.validation.pool import ValidationPool  # a process pool only when configured

    pool = ValidationPool(list(contracts), workers=settings.workers, start_method=settings.start_method)
    started = time.monotonic()
    try:
        await anyio.to_thread.run_sync(pool.start)
    except BaseException:
        await anyio.to_thread.run_sync(pool.close)
        raise
    logger.info("validating in %d worker process(es), started in %.1fs", settings.workers, time.monotonic() - started)
    return pool
