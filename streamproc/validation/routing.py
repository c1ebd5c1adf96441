"""Routing: one topic, several event types, each to its own contract and table.

A top-level discriminator field (``routing.field``: often ``type``; Segment's ``event``) picks each event's route;
:meth:`Router.split` cuts a micro-batch into one share per route, which the preparer validates against the route's
contract (:class:`~streamproc.validation.prepare.LoadPreparer`) and the committer lands into the route's table
(:class:`~streamproc.sinks.committer.Committer`; ``_loads`` and ``_contracts`` are shared). Payloads that are not
JSON objects go to the pipeline's own contract and table, the default route, which reports them as malformed. An
event whose type no route declares would need a table no contract declares — dlt's ``tables`` entity, with the
default route's ``tables`` mode: ``evolve`` (the default) lands it through the default route's contract; ``freeze``
stops the pipeline before the batch commits; ``discard_row`` / ``discard_value`` quarantine it in the default route's
quarantine table with a ``tables`` violation (``route_unknown``), not judged by any contract.

Exactly once, per table: every route's tables are committed for every load (an empty share still records the
``txn`` actions, whose app ids carry the table name), so each table knows how far it has landed each partition; on
assignment the lowest position over all routes is where consumption resumes (:mod:`streamproc.sinks.txn`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from contracts.modes import ModeName
from contracts.validate import Rejection, Violation
from streamproc.batching.batcher import MicroBatch
from streamproc.config.resolve import PipelineContracts
from streamproc.errors import ContractStopError
from streamproc.records import SourceRecord

__all__ = ["Router", "route_of"]


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


class Router:
    """Splits micro-batches by the value of a discriminator field.

    Args:
        field_name: the top-level discriminator field.
        values: the routes' values, in route order (the preparer's tables after the default one).
        default_contract: the default route's contract name and version (they name ``route_unknown`` rejections).
        tables: the default route's ``tables`` mode (what an event of no declared route gets).
    """

    def __init__(
        self, field_name: str, values: Sequence[str], *, default_contract: tuple[str, int], tables: ModeName
    ) -> None:
        self.field_name = field_name
        self.values = tuple(values)
        self.default_contract = default_contract
        self.tables = tables

    @classmethod
    def of(cls, contracts: PipelineContracts) -> Router | None:
        """The router of a pipeline's contracts (``None`` without ``routing``)."""
        if contracts.field is None:
            return None
        info = contracts.default.contract.__contract__
        return cls(
            contracts.field,
            list(contracts.by_value),
            default_contract=(info.name, info.version),
            tables=contracts.default.modes.contract.tables,
        )

    def split(self, batch: MicroBatch) -> list[MicroBatch]:
        """One share per route, the default route's first, then in :attr:`values` order (a share may be empty).

        Each share keeps the batch's close reason and opening time; the default share carries, as
        :attr:`MicroBatch.refused`, the ``route_unknown`` rejections of events no route declares.

        Raises:
            ContractStopError: an event of no declared route under ``tables: freeze``.
        """
        shares: dict[str, list[SourceRecord]] = {value: [] for value in self.values}
        default: list[SourceRecord] = []
        refused: dict[int, Rejection] = {}
        for record in batch.records:
            value = route_of(record.value, self.field_name)
            if isinstance(value, str) and value in shares:
                shares[value].append(record)
                continue
            if value is not _MALFORMED and self.tables != "evolve":
                refused[len(default)] = self._unrouted(record, value, len(default))
            default.append(record)
        parts = []
        for index, records in enumerate([default, *shares.values()]):
            part = MicroBatch.of(records, close_reason=batch.close_reason)
            part.opened_at = batch.opened_at
            if index == 0:
                part.refused = refused
            parts.append(part)
        return parts

    def _unrouted(self, record: SourceRecord, value: Any, index: int) -> Rejection:
        """The rejection of an event whose type no route declares, under ``tables`` other than ``evolve`` (dlt: a
        new table); ``index`` is its position in the default route's share.

        Raises:
            ContractStopError: ``tables: freeze``.
        """
        reason = (
            f"no route for {self.field_name}={value!r} (routes: {', '.join(sorted(self.values))}) and new tables "
            f"are {'frozen' if self.tables == 'freeze' else 'discarded'} (tables: {self.tables})"
        )
        if self.tables == "freeze":
            raise ContractStopError.at(record, reason, "nothing from this batch on was committed")
        name, version = self.default_contract
        violation = Violation(self.field_name, "route_unknown", reason, "tables", self.tables)
        return Rejection(index, name, version, (violation,), "row_discarded")
