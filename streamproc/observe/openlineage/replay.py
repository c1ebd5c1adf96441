"""The OpenLineage run of a quarantine replay (``streamproc quarantine replay``): a job and a run of its own.

==========  =========================================================================================================
event       content
==========  =========================================================================================================
START       job ``<pipeline>.quarantine_replay`` (``jobType``: ``BATCH``, integration ``STREAMPROC``); inputs: the
            quarantine tables it reads, each with the Delta ``version`` read; outputs: the tables it may land into
RUNNING     per replay load: its table with the Delta ``version`` and ``outputStatistics`` of the load, and the
            ``streamproc_load`` run facet (``closeReason: replay``, the load id, the contract version that accepted
            the rows, their original ``offsets``)
COMPLETE    the replay ended; ``FAIL`` with ``errorMessage`` after an error
==========  =========================================================================================================

So the catalog (and its UI's job and dataset pages) shows each replay as a run reading the quarantine dataset and
writing the table, with its loads. Events go through the pipeline's lineage outbox
(:func:`~streamproc.observe.openlineage.observer.outbox_of`) like the pipeline's own: what is not delivered when the
replay ends waits there for the next run or ``streamproc lineage outbox --flush``, and a replay killed before its
terminal event is ended with a ``FAIL`` by whoever adopts its log. A problem of the emission is logged, never raised
into the replay (the lake keeps every load).
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
)
from openlineage.client.serde import Serde

from streamproc.config import PipelineConfig
from streamproc.config.resolve import PipelineContracts
from streamproc.lineage.loads import LoadRecord
from streamproc.observe.openlineage import facets as f
from streamproc.observe.openlineage.delivery import Deliverer
from streamproc.observe.openlineage.describe import TableDescription, quarantine_description, table_description
from streamproc.observe.openlineage.events import engine_facet, table_facets
from streamproc.observe.openlineage.observer import adopt_orphans, outbox_of
from streamproc.observe.openlineage.outbox import RunLog

__all__ = ["ReplayLineage", "replay_job_name"]

logger = logging.getLogger(__name__)


def replay_job_name(pipeline: str) -> str:
    """The OpenLineage job of a pipeline's quarantine replays: ``<pipeline>.quarantine_replay``."""
    return f"{pipeline}.quarantine_replay"


class ReplayLineage:
    """A replay's OpenLineage events, as a :class:`~streamproc.ops.quarantine.report.ReplayListener`.

    Args:
        config, contracts: the pipeline (namespace, outbox, the tables' contracts).
        client_factory: makes the OpenLineage client (openlineage-python's own configuration by default).

    Attributes:
        left: events still in the outbox after :meth:`on_stop` (not delivered within ``lineage.flush_timeout_seconds``).
    """

    def __init__(
        self,
        config: PipelineConfig,
        contracts: PipelineContracts,
        *,
        client_factory: Callable[[], OpenLineageClient] = OpenLineageClient,
    ) -> None:
        self.config = config
        self.contracts = contracts
        self._client_factory = client_factory
        self._run_id = ""
        self._inputs: list[InputDataset] = []
        self._tables: dict[str, TableDescription] = {}
        self._log: RunLog | None = None
        self._deliverer: Deliverer | None = None
        self.left = 0

    def on_start(self, run_id: str, quarantines: list[tuple[Any, list[str]]]) -> None:
        self._run_id = run_id
        by_location = {r.sink.table_uri: r for r in self.contracts.routes}
        by_quarantine = {r.sink.resolved_quarantine_uri: r for r in self.contracts.routes}
        for snapshot, locations in quarantines:
            route = by_quarantine[snapshot.uri]
            info = route.contract.__contract__
            described = quarantine_description(snapshot.uri, tags=info.tags, contract_name=info.name, owner=info.owner)
            facets = table_facets(described, (), namespace=self.config.lineage.namespace)
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                producer=f.PRODUCER, datasetVersion=str(snapshot.version)
            )
            self._inputs.append(InputDataset(namespace=described.dataset.namespace, name=described.dataset.name, facets=facets))
            for location in locations:
                routed = by_location[location]
                self._tables[routed.table_name] = table_description(routed.contract, location, self.config.pii.actions)
        self._guarded("start", self._open)
        self._emit(RunState.START)

    def on_scan(self, quarantine: Any) -> None:
        pass

    def on_scanned(self, rows: int) -> None:
        pass

    def on_load(self, load: LoadRecord, quarantine: Any) -> None:
        table = self._tables.get(load.table_name)
        if table is None:
            return
        facets = table_facets(table, (), namespace=self.config.lineage.namespace)
        if load.delta_version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                producer=f.PRODUCER, datasetVersion=str(load.delta_version)
            )
        statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            producer=f.PRODUCER, rowCount=load.rows_landed, size=load.bytes
        )
        output = OutputDataset(
            namespace=table.dataset.namespace,
            name=table.dataset.name,
            facets=facets,
            outputFacets={"outputStatistics": statistics},
        )
        self._emit(
            RunState.RUNNING,
            outputs=[output],
            run_facets={"streamproc_load": f.load_facet(load, table=table.dataset.name)},
            at=load.committed_at,
        )

    def on_stop(self, summary: Any, error: BaseException | None) -> None:
        if error is None:
            self._emit(RunState.COMPLETE)
        else:
            facet = error_message_run.ErrorMessageRunFacet(
                producer=f.PRODUCER,
                message=f"{type(error).__name__}: {error}",
                programmingLanguage="PYTHON",
                stackTrace="".join(traceback.format_exception(error)) or None,
            )
            self._emit(RunState.FAIL, run_facets={"errorMessage": facet})
        if self._log is not None:
            self._guarded("seal", self._log.seal)
        if self._deliverer is not None:
            self.left = self._deliverer.close(self.config.lineage.flush_timeout_seconds)

    def _open(self) -> None:
        outbox = outbox_of(self.config)
        deliverer = Deliverer(
            self._client_factory(), outbox, retry_max_seconds=self.config.lineage.retry_max_seconds
        )
        for orphan in adopt_orphans(outbox, by=f"quarantine replay {self._run_id}"):
            deliverer.add(orphan)
        self._log = outbox.create(self._run_id)
        deliverer.add(self._log)
        deliverer.start()
        self._deliverer = deliverer

    def _emit(
        self,
        state: RunState,
        *,
        outputs: list[OutputDataset] | None = None,
        run_facets: dict[str, Any] | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        if self._log is None or self._deliverer is None:
            return
        event = RunEvent(
            eventType=state,
            eventTime=(at or dt.datetime.now(dt.UTC)).isoformat(),
            producer=f.PRODUCER,
            run=Run(runId=self._run_id, facets={"processing_engine": engine_facet(), **(run_facets or {})}),
            job=Job(namespace=self.config.lineage.namespace, name=replay_job_name(self.config.name), facets=self._job_facets()),
            inputs=self._inputs,
            outputs=outputs if outputs is not None else self._outputs(),
        )
        log, deliverer = self._log, self._deliverer
        self._guarded(state.value, lambda: (log.append(Serde.to_dict(event)), deliverer.wake()))

    def _outputs(self) -> list[OutputDataset]:
        namespace = self.config.lineage.namespace
        return [
            OutputDataset(namespace=t.dataset.namespace, name=t.dataset.name, facets=table_facets(t, (), namespace=namespace))
            for t in self._tables.values()
        ]

    def _job_facets(self) -> dict[str, Any]:
        tables = ", ".join(sorted(self._tables)) or "its tables"
        return {
            "jobType": job_type_job.JobTypeJobFacet(
                producer=f.PRODUCER, processingType="BATCH", integration="STREAMPROC", jobType="JOB"
            ),
            "documentation": documentation_job.DocumentationJobFacet(
                producer=f.PRODUCER,
                description=f"streamproc quarantine replay of pipeline {self.config.name}: quarantined events "
                f"re-validated against the contracts as they are now, those that pass landed into {tables}.",
            ),
        }

    def _guarded(self, what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - lineage must never stop a replay; the lake keeps every load
            logger.warning("OpenLineage %s of quarantine replay %s failed: %s", what, self._run_id, exc)
