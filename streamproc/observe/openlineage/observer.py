"""The OpenLineage observer: one OpenLineage run per consumer process, its events through a durable outbox.

============  ====================================================================================================
hook          event
============  ====================================================================================================
on_start      ``START`` (inputs: the topics; outputs: the table and its quarantine table, with their static facets)
on_load       ``RUNNING`` per load (``emit: per_load``), or at most one per ``every_seconds`` summarising the loads
              since the last one (``emit: every_n_seconds``; what is left is sent at stop)
on_recovered  ``RUNNING`` of the crashed run (its run id, at the load's commit time) for each load a crash had
              interrupted and this process recorded on assignment (:mod:`streamproc.sinks.txn`)
on_stop       ``COMPLETE`` after a graceful stop; ``FAIL`` with ``errorMessage`` after an error or a ``freeze`` stop
============  ====================================================================================================

Every event is appended (fsynced) to the outbox before the hook returns, and a background thread delivers it
(:mod:`streamproc.observe.openlineage.delivery`). A recovered load's event goes into this run's log too, so that it is delivered
now rather than after this run's last event. At start the observer also adopts the logs of earlier runs that died before
delivering everything, and ends a run that died without a terminal event with a ``FAIL`` ("ended without reporting
how"). A problem of the observer itself is logged, never raised into the pipeline (:mod:`streamproc.observe.observer`): the lake keeps
every load, and ``streamproc lineage backfill`` rebuilds their events. Only a configuration that names no OpenLineage
transport (:mod:`streamproc.observe.openlineage.transport`) is refused, when the observer is made, before the run.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde

from streamproc.config import LineageConfig, PipelineConfig, SinkConfig
from streamproc.errors import ContractStopError, StorageUnavailableError
from streamproc.config.resolve import resolve_contracts
from streamproc.observe.openlineage import events
from streamproc.observe.openlineage.describe import RunDescription, describe_run, with_table_schema
from streamproc.observe.openlineage.backfill import describe_load_run, table_schema_at
from streamproc.observe.openlineage.delivery import Deliverer
from streamproc.observe.openlineage.facets import PRODUCER
from streamproc.lineage.loads import LoadRecord
from streamproc.observe.openlineage.outbox import TERMINAL_EVENT_TYPES, Outbox, RunLog
from streamproc.observe.openlineage.transport import open_client
from streamproc.observe.observer import PipelineObserver, RunInfo

if TYPE_CHECKING:
    from streamproc.batching.batcher import MicroBatch
    from streamproc.sinks.committer import LoadOutcome
    from streamproc.observe.summary import RunSummary

__all__ = ["OpenLineageObserver", "adopt_orphans", "outbox_dir", "outbox_of"]

logger = logging.getLogger(__name__)


def outbox_of(config: PipelineConfig) -> Outbox:
    """The job's outbox, in :func:`outbox_dir` (created if missing).

    Raises:
        OutboxError: the folder cannot be created.
    """
    return Outbox(outbox_dir(config))


def outbox_dir(config: PipelineConfig) -> Path:
    """The job's outbox folder, whether or not it exists: ``lineage.outbox_dir``, by default ``_lineage_outbox``
    beside a local table (else in the temporary folder: set ``outbox_dir`` to a persistent volume), then
    ``<namespace>/<pipeline>``."""
    base = Path(config.lineage.outbox_dir) if config.lineage.outbox_dir else _default_outbox_dir(config.sink)
    return base / config.lineage.namespace / config.name


def _default_outbox_dir(sink: SinkConfig) -> Path:
    if "://" not in sink.table_uri or sink.table_uri.startswith("file://"):
        return Path(sink.table_uri.removeprefix("file://")).absolute().parent / "_lineage_outbox"
    return Path(tempfile.gettempdir()) / "streamproc-lineage-outbox"


class OpenLineageObserver(PipelineObserver):
    """Emits the run's OpenLineage events (see the module docstring).

    Args:
        config: the pipeline config (its ``lineage`` section says what to emit).
        client_factory: makes the OpenLineage client, here rather than at start, so that a pipeline that cannot
            send is refused before it runs; default :func:`~streamproc.observe.openlineage.transport.open_client`
            (openlineage-python's own configuration: ``openlineage.yml``, ``OPENLINEAGE_*`` variables).
        on_delivered: called with each delivered event (JSON form), from the delivery thread.

    Raises:
        NoTransportError: that configuration names no transport (events would only be printed).
        ConfigError: it cannot be used.
    """

    def __init__(
        self,
        config: PipelineConfig,
        *,
        client_factory: Callable[[], OpenLineageClient] = open_client,
        on_delivered: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.lineage: LineageConfig = config.lineage
        self._client = client_factory()
        self._on_delivered = on_delivered
        self._run: RunDescription | None = None
        self._log: RunLog | None = None
        self._deliverer: Deliverer | None = None
        self._window: list[LoadRecord] = []
        self._last_running = time.monotonic()
        self._contract_hashes: dict[str, str] = {}
        self._info: RunInfo | None = None

    async def on_start(self, run: RunInfo) -> None:
        self._info = run
        tables = run.tables
        routes = run.contracts.routes[1:] if run.contracts is not None else ()
        self._run = describe_run(
            run_id=run.run_id,
            namespace=self.lineage.namespace,
            pipeline=self.config.name,
            contract=run.contract,
            source_uris=run.source_uris,
            table_uri=tables["table"],
            quarantine_uri=tables["quarantine"],
            emission=self.lineage.emit,
            window_seconds=self.lineage.every_seconds,
            routes=[(r.contract, r.sink.table_uri, r.sink.resolved_quarantine_uri) for r in routes],
            pii_actions=self.config.pii.actions,
        )
        for route in self._run.outputs:
            await self._follow_table_schema(route.table.logical_name)
        await anyio.to_thread.run_sync(self._open, run.run_id)
        await self._emit(events.start_event(self._run))
        self._last_running = time.monotonic()

    def _open(self, run_id: str) -> None:
        outbox = outbox_of(self.config)
        deliverer = Deliverer(
            self._client,
            outbox,
            pipeline=self.config.name,
            retry_max_seconds=self.lineage.retry_max_seconds,
            on_delivered=self._on_delivered,
        )
        for orphan in adopt_orphans(outbox, by=f"run {run_id}"):
            deliverer.add(orphan)
        self._log = outbox.create(run_id)
        deliverer.add(self._log)
        deliverer.start()
        self._deliverer = deliverer

    async def on_load(self, outcome: LoadOutcome, batch: MicroBatch) -> None:
        """Each table's load (the pipeline's own, then every route's) is reported as a load of that table."""
        if self._run is None:
            return
        for table in outcome.tables:
            if table.already_landed:
                continue
            load = table.load
            if self._contract_hashes.get(load.table_name) != load.contract_hash:
                # ``evolve`` changed the table (a new inferred contract version): describe the table as it is now
                self._contract_hashes[load.table_name] = load.contract_hash
                await self._flush_window()
                await self._follow_table_schema(load.table_name)
            self._window.append(load)
            if self.lineage.emit == "per_load" or time.monotonic() - self._last_running >= self.lineage.every_seconds:
                await self._flush_window()

    async def on_recovered(self, loads: Sequence[LoadRecord]) -> None:
        """A RUNNING event per recovered load, as the crashed run would have sent it (its run id; the load's commit
        time, so the catalog keeps the run's later ``FAIL`` as its state); described as ``streamproc lineage
        backfill`` describes it (:func:`streamproc.observe.openlineage.backfill.describe_load_run`)."""
        if self._run is None or self._info is None:
            return
        info = self._info
        contracts = info.contracts if info.contracts is not None else resolve_contracts(self.config)
        for load in loads:
            describe = functools.partial(describe_load_run, self.config, contracts, load, source_uris=info.source_uris)
            run = await anyio.to_thread.run_sync(describe)
            await self._emit(events.load_event(run, [load], at=load.committed_at))
            logger.info("reported load %s of crashed run %s to OpenLineage", load.load_id[:12], load.run_id)

    async def on_stop(self, summary: RunSummary, error: BaseException | None) -> None:
        if self._run is None or self._log is None or self._deliverer is None:
            return
        try:
            await self._flush_window()
            if error is None:
                await self._emit(events.complete_event(self._run))
            else:
                if isinstance(error, ContractStopError):
                    logger.info("reporting the freeze stop to OpenLineage as FAIL")
                await self._emit(events.fail_event(self._run, error))
            await anyio.to_thread.run_sync(self._log.seal)
        finally:
            deliverer = self._deliverer
            await anyio.to_thread.run_sync(deliverer.close, self.lineage.flush_timeout_seconds)

    async def _follow_table_schema(self, table_name: str) -> None:
        """Describe a table with the schema its Delta log has (``evolve`` may have grown it past the contract)."""
        if self._run is None:
            return
        found = [r.table for r in self._run.outputs if r.table.logical_name == table_name]
        if not found:
            return
        location, options = found[0].location, self.config.sink.storage_options
        try:
            schema = await anyio.to_thread.run_sync(
                functools.partial(table_schema_at, location, version=None, storage_options=options)
            )
        except StorageUnavailableError as exc:
            logger.warning("cannot read the schema of %s (%s): describing it from the contract", location, exc)
            return
        self._run = with_table_schema(self._run, schema, table_name=table_name)

    async def _flush_window(self) -> None:
        if not self._window or self._run is None:
            return
        loads, self._window = self._window, []
        await self._emit(events.load_event(self._run, loads))
        self._last_running = time.monotonic()

    async def _emit(self, event: RunEvent) -> None:
        if self._log is None or self._deliverer is None:
            return
        await anyio.to_thread.run_sync(self._log.append, Serde.to_dict(event))
        self._deliverer.wake()


def adopt_orphans(outbox: Outbox, *, by: str) -> list[RunLog]:
    """The logs of dead processes, ready to deliver: sealed, a run that died without a terminal event ended with a
    ``FAIL`` (``by`` names who noticed, e.g. ``run <id>``). Oldest first."""
    orphans = outbox.adopt_orphans()
    for orphan in orphans:
        if not orphan.sealed:
            if orphan.appended and orphan.kind == "run" and orphan.last_event_type not in TERMINAL_EVENT_TYPES:
                _end_orphan(orphan, by=by)
            orphan.seal()
        if orphan.pending:
            logger.info("delivering %d lineage event(s) an earlier process left in %s", orphan.pending, orphan.path)
    return orphans


def _end_orphan(orphan: RunLog, *, by: str) -> None:
    """Append a FAIL for a run whose process died before reporting how it ended (its last event is not terminal)."""
    last = _first_event(orphan.path)  # the run's START: its run and job (later lines may be recovered loads')
    if last is None:
        return
    message = f"the streamproc process of this run ended without reporting how (killed or crashed); noticed by {by}"
    orphan.append(
        {
            "eventType": "FAIL",
            "eventTime": dt.datetime.now(dt.UTC).isoformat(),
            "producer": PRODUCER,
            "schemaURL": last.get("schemaURL", "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"),
            "run": {
                "runId": last["run"]["runId"],
                "facets": {
                    "errorMessage": {
                        "_producer": PRODUCER,
                        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"
                        "#/$defs/ErrorMessageRunFacet",
                        "message": message,
                        "programmingLanguage": "PYTHON",
                    },
                },
            },
            "job": {"namespace": last["job"]["namespace"], "name": last["job"]["name"]},
            "inputs": [],
            "outputs": [],
        }
    )
    logger.warning("run %s ended without a terminal OpenLineage event; reporting it as FAIL", last["run"]["runId"])


def _first_event(path: Path) -> dict[str, Any] | None:
    with path.open("rb") as handle:
        line = handle.readline()
    try:
        return json.loads(line) if line.endswith(b"\n") else None
    except ValueError:
        return None
