"""A quarantine replay's OpenLineage run, emitted live (the events: :mod:`.replay_events`).

Events go through the pipeline's lineage outbox (:func:`~streamproc.observe.openlineage.observer.outbox_of`) like
the pipeline's own: what is not delivered when the replay ends waits there for the next run or ``streamproc lineage
outbox --flush``, and a replay killed before its terminal event is ended with a ``FAIL`` by whoever adopts its log. A
problem of the emission is logged, never raised into the replay (the lake keeps every load; ``streamproc lineage
backfill`` rebuilds its events); only a configuration that names no OpenLineage transport is refused, before the
replay begins (:mod:`streamproc.observe.openlineage.transport`).

Each table is described with the schema its Delta log has (read at start, and at a table's first load under each
contract version, when the replay may have added columns), as the pipeline's observer describes it; a table that
cannot be read (not created yet) is described from its contract until its first load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunEvent, RunState
from openlineage.client.serde import Serde

from streamproc.config import PipelineConfig
from streamproc.config.resolve import PipelineContracts
from streamproc.errors import StorageUnavailableError
from streamproc.lineage.loads import LoadRecord
from streamproc.observe.openlineage.backfill import table_schema_at
from streamproc.observe.openlineage.delivery import Deliverer
from streamproc.observe.openlineage.observer import adopt_orphans, outbox_of
from streamproc.observe.openlineage.outbox import RunLog
from streamproc.observe.openlineage.transport import open_client
from streamproc.observe.openlineage.replay_events import (
    ReplayRun,
    describe_replay,
    replay_event,
    with_replay_table_schema,
)

__all__ = ["ReplayLineage"]

logger = logging.getLogger(__name__)


class ReplayLineage:
    """A replay's OpenLineage events, as a :class:`~streamproc.ops.quarantine.report.ReplayListener`.

    Args:
        config, contracts: the pipeline (namespace, outbox, the tables' contracts).
        client_factory: makes the OpenLineage client, here rather than at start, so that a replay that cannot send
            is refused before it begins; default :func:`~streamproc.observe.openlineage.transport.open_client`
            (openlineage-python's own configuration).

    Raises:
        NoTransportError: that configuration names no transport (events would only be printed).
        ConfigError: it cannot be used.

    Attributes:
        left: events still in the outbox after :meth:`on_stop` (not delivered within
            ``lineage.flush_timeout_seconds``).
    """

    def __init__(
        self,
        config: PipelineConfig,
        contracts: PipelineContracts,
        *,
        client_factory: Callable[[], OpenLineageClient] = open_client,
    ) -> None:
        self.config = config
        self.contracts = contracts
        self._client = client_factory()
        self._run: ReplayRun | None = None
        self._log: RunLog | None = None
        self._deliverer: Deliverer | None = None
        self._contract_hashes: dict[str, str] = {}
        self.left = 0

    def on_start(self, run_id: str, quarantines: list[tuple[Any, list[str]]]) -> None:
        self._run = describe_replay(
            self.config,
            self.contracts,
            run_id=run_id,
            quarantines=[(snapshot.uri, snapshot.version, tables) for snapshot, tables in quarantines],
        )
        for table_name in self._run.tables:
            self._guarded("schema", lambda name=table_name: self._follow_table_schema(name, None))
        self._guarded("start", self._open)
        self._emit(lambda run: replay_event(run, RunState.START))

    def on_scan(self, quarantine: Any) -> None:
        pass

    def on_scanned(self, rows: int) -> None:
        pass

    def on_load(self, load: LoadRecord, quarantine: Any) -> None:
        if self._contract_hashes.get(load.table_name) != load.contract_hash:
            # the table's first load under this contract version: it may have added the version's columns
            self._contract_hashes[load.table_name] = load.contract_hash
            self._guarded("schema", lambda: self._follow_table_schema(load.table_name, load.delta_version))
        self._emit(lambda run: replay_event(run, RunState.RUNNING, load=load, at=load.committed_at))

    def on_stop(self, summary: Any, error: BaseException | None) -> None:
        if error is None:
            self._emit(lambda run: replay_event(run, RunState.COMPLETE))
        else:
            self._emit(lambda run: replay_event(run, RunState.FAIL, error=error))
        if self._log is not None:
            self._guarded("seal", self._log.seal)
        if self._deliverer is not None:
            self.left = self._deliverer.close(self.config.lineage.flush_timeout_seconds)

    def _follow_table_schema(self, table_name: str, version: int | None) -> None:
        """Describe a table with the schema its Delta log has at ``version`` (``None``: the newest)."""
        run = self._run
        if run is None or table_name not in run.tables:
            return
        location = run.tables[table_name].location
        try:
            schema = table_schema_at(location, version=version, storage_options=self.config.sink.storage_options)
        except StorageUnavailableError as exc:
            logger.info("cannot read the schema of %s (%s): describing it from the contract", location, exc)
            return
        self._run = with_replay_table_schema(run, table_name, schema)

    def _open(self) -> None:
        if self._run is None:
            return
        outbox = outbox_of(self.config)
        deliverer = Deliverer(
            self._client, outbox, pipeline=self.config.name, retry_max_seconds=self.config.lineage.retry_max_seconds
        )
        for orphan in adopt_orphans(outbox, by=f"quarantine replay {self._run.run_id}"):
            deliverer.add(orphan)
        self._log = outbox.create(self._run.run_id)
        deliverer.add(self._log)
        deliverer.start()
        self._deliverer = deliverer

    def _emit(self, build: Callable[[ReplayRun], RunEvent]) -> None:
        run, log, deliverer = self._run, self._log, self._deliverer
        if run is None or log is None or deliverer is None:
            return

        def append() -> None:
            log.append(Serde.to_dict(build(run)))
            deliverer.wake()

        self._guarded("event", append)

    def _guarded(self, what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - lineage must never stop a replay; the lake keeps every load
            logger.warning("OpenLineage %s of a quarantine replay failed: %s", what, exc)
