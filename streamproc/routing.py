"""Routing: one topic, several event types, each to its own contract and table.

A top-level discriminator field (``routing.field``: often ``type``; Segment's ``event``) picks each event's route.
Each route has its own :class:`~streamproc.landing.Lander` (its contract, table, quarantine table; ``_loads`` and
``_contracts`` are shared), and one micro-batch is split by route. Payloads that are not JSON objects go to the
pipeline's own contract and table, the default route, which reports them as malformed. An event whose type no route
declares would need a table no contract declares — dlt's ``tables`` entity, with the default route's ``tables``
mode: ``evolve`` (the default) lands it through the default route's contract; ``freeze`` stops the pipeline before
the batch commits; ``discard_row`` / ``discard_value`` quarantine it in the default route's quarantine table with a
``tables`` violation (``route_unknown``), not judged by any contract.

Exactly once, per table: every route's Lander commits every load (an empty commit still records the ``txn``
actions, whose app ids carry the table name), so each table knows how far it has landed each partition; on
assignment the lowest position over all routes is where consumption resumes, and each table skips what it holds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from contracts import Contract, load_contract
from contracts.modes import resolve_modes
from contracts.registry import ContractRegistry
from contracts.validate import Rejection, Violation
from streamproc.batching.batcher import MicroBatch
from streamproc.config import PipelineConfig, SinkConfig
from streamproc.errors import ConfigError, ContractStopError
from streamproc.landing import Lander, LoadOutcome, PreparedLoad, table_name_of
from streamproc.sinks.delta import DeltaTableWriter
from streamproc.sources.base import SourceRecord, TopicPartition

__all__ = ["RoutedLander", "RoutedLoad", "with_routes", "route_contracts", "route_of"]


_MALFORMED = object()


def route_of(payload: bytes | None, field_name: str) -> Any:
    """The discriminator's value at the top level of a JSON object (``None`` when absent), or ``_MALFORMED`` when
    the payload is not a JSON object (the default route's contract reports it)."""
    if not payload:
        return _MALFORMED
    try:
        document = json.loads(payload)
    except ValueError:
        return _MALFORMED
    return document.get(field_name) if isinstance(document, dict) else _MALFORMED


def route_contracts(config: PipelineConfig) -> dict[str, type[Contract]]:
    """Route value → contract class, for a routed pipeline (empty without ``routing``).

    Raises:
        ContractNotFoundError: a route's contract cannot be loaded.
    """
    if config.routing is None:
        return {}
    return {value: load_contract(route.contract) for value, route in config.routing.routes.items()}


@dataclass(slots=True)
class _RouteBatch(MicroBatch):
    """One route's share of a micro-batch; its offset ranges are the whole batch's, so that its table records the
    batch's ``txn`` versions even when no event of the batch took this route."""

    ranges: dict[TopicPartition, tuple[int, int]] = field(default_factory=dict)

    def offset_ranges(self) -> dict[TopicPartition, tuple[int, int]]:
        return dict(self.ranges)


@dataclass(frozen=True, slots=True)
class RoutedLoad:
    """A micro-batch prepared for every route (:meth:`RoutedLander.prepare`): each route's Lander with its share."""

    batch: MicroBatch
    shares: tuple[tuple[Lander, PreparedLoad], ...]

    @property
    def load_id(self) -> str:
        return self.shares[0][1].load_id


class RoutedLander:
    """Lands a batch into several tables by route; the same interface as :class:`Lander` for the pipeline.

    :attr:`table`, :attr:`quarantine`, :attr:`loads` and :attr:`contract_hash` are the default route's; :meth:`land`
    returns the default route's outcome with the other routes' in :attr:`LoadOutcome.routed`.
    """

    def __init__(self, default: Lander, routes: Mapping[str, Lander], *, field_name: str) -> None:
        self.default = default
        self.routes = dict(routes)
        self.field_name = field_name
        names = [table_name_of(lander.table.uri) for lander in self.landers]
        if len(set(names)) != len(names):
            raise ConfigError(f"routed tables must have distinct names (they name the txn app ids): {names}")

    @property
    def landers(self) -> list[Lander]:
        return [self.default, *self.routes.values()]

    def __getattr__(self, name: str) -> Any:
        # table, quarantine, loads, contract, contract_hash, app_id...: the default route's
        return getattr(self.default, name)

    @property
    def writers(self) -> tuple[DeltaTableWriter, ...]:
        """Every table's writers, in commit order per route, ``_loads`` once (shared)."""
        seen: dict[str, DeltaTableWriter] = {}
        for lander in self.landers:
            for writer in lander.writers:
                seen.setdefault(writer.uri, writer)
        return tuple(seen.values())

    def open(self) -> None:
        """Create or check every route's tables (see :meth:`Lander.open`)."""
        for lander in self.landers:
            lander.open()

    def positions(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        """The lowest position over every route's tables (a route whose tables know nothing is left out)."""
        partitions = set(partitions)
        positions: dict[TopicPartition, int | None] = {tp: None for tp in partitions}
        for lander in self.landers:
            for tp, offset in lander.positions(partitions).items():
                if offset is not None and (positions[tp] is None or offset < positions[tp]):  # type: ignore[operator]
                    positions[tp] = offset
        return positions

    def land(self, batch: MicroBatch, *, load_id: str | None = None) -> LoadOutcome:
        """Split ``batch`` by route and land each share (:meth:`commit` of :meth:`prepare`)."""
        return self.commit(self.prepare(batch, load_id=load_id))

    def prepare(self, batch: MicroBatch, *, load_id: str | None = None) -> RoutedLoad:
        """Split ``batch`` by route and prepare each share (see :meth:`Lander.prepare`; raises what it raises, and
        ContractStopError for an event of unknown type under ``tables: freeze``)."""
        shares: dict[str, list[SourceRecord]] = {value: [] for value in self.routes}
        default: list[SourceRecord] = []
        refused: dict[int, Rejection] = {}
        tables = self.default.modes.contract.tables
        for record in batch.records:
            value = route_of(record.value, self.field_name)
            if isinstance(value, str) and value in shares:
                shares[value].append(record)
                continue
            if value is not _MALFORMED and tables != "evolve":
                refused[len(default)] = self._unrouted(record, value, tables, len(default))
            default.append(record)
        ranges = batch.offset_ranges()
        load_id = load_id or uuid.uuid4().hex
        prepared = []
        for index, (lander, records) in enumerate([(self.default, default), *((self.routes[v], shares[v]) for v in shares)]):
            share = _RouteBatch.of(records, close_reason=batch.close_reason)
            share.opened_at, share.ranges = batch.opened_at, ranges
            if index == 0:
                share.refused = refused
            prepared.append((lander, lander.prepare(share, load_id=f"{load_id}-{index}" if index else load_id)))
        return RoutedLoad(batch, tuple(prepared))

    def commit(self, prepared: RoutedLoad) -> LoadOutcome:
        """Commit every route's share in route order; the default route's outcome, with the others' in ``routed``.
        Raises what :meth:`Lander.commit` raises (the first route to fail stops the load; routes already committed
        skip their share when called again)."""
        outcomes = [lander.commit(share) for lander, share in prepared.shares]
        first, *others = outcomes
        return replace(
            first,
            already_landed=all(o.already_landed for o in outcomes),
            routed=tuple(others),
        )

    def _unrouted(self, record: SourceRecord, value: Any, tables: str, index: int) -> Rejection:
        """The rejection of an event whose type no route declares, under ``tables`` other than ``evolve`` (dlt: a
        new table); ``index`` is its position in the default route's share.

        Raises:
            ContractStopError: ``tables: freeze``.
        """
        reason = (
            f"no route for {self.field_name}={value!r} (routes: {', '.join(sorted(self.routes))}) and new tables "
            f"are {'frozen' if tables == 'freeze' else 'discarded'} (tables: {tables})"
        )
        if tables == "freeze":
            raise ContractStopError.at(record, reason, "nothing from this batch on was committed")
        info = self.default.contract.__contract__
        violation = Violation(self.field_name, "route_unknown", reason, "tables", tables)  # type: ignore[arg-type]
        return Rejection(index, info.name, info.version, (violation,), "row_discarded")


def with_routes(
    config: PipelineConfig, lander: Lander, *, registry: ContractRegistry | None = None
) -> Lander | RoutedLander:
    """``lander`` itself without ``routing``; else a :class:`RoutedLander` with it as the default route and one
    Lander per route, sharing its pipeline, consumer group, run, sources, options, ``_loads`` and ``_contracts``.

    Raises:
        ContractNotFoundError: a route's contract cannot be loaded.
        ConfigError: two routes land into tables of the same name.
    """
    if config.routing is None:
        return lander
    base = config.sink.table_uri.rstrip("/")
    parent = base.rsplit("/", 1)[0] if "/" in base else "."
    routes: dict[str, Lander] = {}
    for value, contract in route_contracts(config).items():
        route = config.routing.routes[value]
        sink = SinkConfig(
            table_uri=route.table_uri or f"{parent}/{contract.__contract__.name}",
            loads_uri=config.sink.resolved_loads_uri,
            contracts_uri=config.sink.resolved_contracts_uri,
            storage_options=config.sink.storage_options,
        )
        routes[value] = Lander(
            contract=contract,
            sink=sink,
            pipeline=lander.pipeline,
            consumer_group=lander.consumer_group,
            run_id=lander.run_id,
            source_uris=lander.source_uris,
            modes=resolve_modes(contract, config.contract_mode),  # type: ignore[arg-type]
            registry=registry,
            stage_options=lander.stage.options,
            validation_pool=lander.stage.pool,
        )
    return RoutedLander(lander, routes, field_name=config.routing.field)
