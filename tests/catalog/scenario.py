"""A streamproc-like run told with the real openlineage-python client: a Kafka topic landed into a Delta table
(plus its quarantine table), with an evolving contract (v1 → v2 adds ``tail_number``) and two loads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    dataset_version_dataset,
    documentation_dataset,
    job_type_job,
    output_statistics_output_dataset,
    schema_dataset,
    symlinks_dataset,
    tags_dataset,
)
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

PRODUCER = "https://github.com/example/streamproc/tree/0.1.0"
KAFKA_NS = "kafka://127.0.0.1:9092"
TOPIC = "flights-raw"
TABLE = "/lake/flights"
QUARANTINE = "/lake/flights__quarantine"
JOB_NS = "streamproc"
JOB = "flights-ingest"

V1 = [
    ("year", "int64", []),
    ("carrier", "string", []),
    ("passenger_email", "string", ["email"]),
    ("passenger_name", "string", ["name"]),
    ("origin_ip", "string", ["ip"]),
]
V2 = [*V1, ("tail_number", "string", [])]


@attr.define
class StreamprocLoadRunFacet(RunFacet):
    """The custom run facet the streamproc runtime puts on RUNNING events."""

    loadId: str  # noqa: N815
    contract: dict
    table: str
    deltaVersion: int  # noqa: N815
    rowsLanded: int  # noqa: N815
    rowsQuarantined: int  # noqa: N815
    offsets: list

    @staticmethod
    def _get_schema() -> str:
        return "https://streamproc.dev/spec/facets/1-0-0/StreamprocLoadRunFacet.json#/$defs/StreamprocLoadRunFacet"


@attr.define
class StreamprocLoadsRunFacet(RunFacet):
    """The custom run facet of ``emit: every_n_seconds``: every load since the previous RUNNING event, oldest first."""

    loads: list[StreamprocLoadRunFacet]

    @staticmethod
    def _get_schema() -> str:
        return "https://streamproc.dev/spec/facets/1-0-0/StreamprocLoadsRunFacet.json#/$defs/StreamprocLoadsRunFacet"


def client(url: str, token: str) -> OpenLineageClient:
    config = HttpConfig(url=url, endpoint="api/v1/lineage", timeout=10, auth=ApiKeyTokenProvider({"apiKey": token}))
    return OpenLineageClient(transport=HttpTransport(config))


def _schema(fields: list[tuple[str, str, list[str]]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t, _ in fields]
    )


def _table(fields: list[tuple[str, str, list[str]]], *, version: int | None, rows: int | None = None) -> OutputDataset:
    facets = {
        "schema": _schema(fields),
        "symlinks": symlinks_dataset.SymlinksDatasetFacet(
            identifiers=[symlinks_dataset.Identifier(namespace="streamproc", name="flights", type="TABLE")]
        ),
        "tags": tags_dataset.TagsDatasetFacet(
            tags=[
                tags_dataset.TagsDatasetFacetFields(key="pii", value="true", source="CONTRACT"),
                *[
                    tags_dataset.TagsDatasetFacetFields(key=tag, value="true", source="CONTRACT", field=n)
                    for n, _, tags in fields
                    for tag in tags
                ],
            ]
        ),
        "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                n: column_lineage_dataset.Fields(
                    inputFields=[
                        column_lineage_dataset.InputField(
                            namespace=KAFKA_NS,
                            name=TOPIC,
                            field=n,
                            transformations=[column_lineage_dataset.Transformation(type="DIRECT", subtype="IDENTITY")],
                        )
                    ]
                )
                for n, _, _ in fields
            }
        ),
        "documentation": documentation_dataset.DocumentationDatasetFacet(description="Flights, one row per departure"),
    }
    if version is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version))
    output_facets = {}
    if rows is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows, size=rows * 100
        )
    return OutputDataset(namespace="file", name=TABLE, facets=facets, outputFacets=output_facets)


def _topic(fields: list[tuple[str, str, list[str]]]) -> InputDataset:
    return InputDataset(namespace=KAFKA_NS, name=TOPIC, facets={"schema": _schema(fields)})


def _quarantine() -> OutputDataset:
    return OutputDataset(
        namespace="file",
        name=QUARANTINE,
        facets={"schema": _schema([("payload", "binary", []), ("reasons", "string", [])])},
    )


def _event(
    state: RunState, at: datetime, run_id: str, job: Job, inputs: list, outputs: list, run_facets: dict | None
) -> RunEvent:
    return RunEvent(
        eventType=state,
        eventTime=at.isoformat(),
        producer=PRODUCER,
        run=Run(runId=run_id, facets=run_facets or {}),
        job=job,
        inputs=inputs,
        outputs=outputs,
    )


def events(run_id: str | None = None) -> list[RunEvent]:
    """START; RUNNING (load 0: v1, Delta version 0); RUNNING (load 1: v2 adds tail_number, Delta 1); COMPLETE."""
    run_id = run_id or str(uuid.uuid4())
    t0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    job = Job(
        namespace=JOB_NS,
        name=JOB,
        facets={
            "jobType": job_type_job.JobTypeJobFacet(processingType="STREAMING", integration="STREAMPROC", jobType="JOB")
        },
    )

    def event(state: RunState, at: int, inputs: list, outputs: list, run_facets: dict | None = None) -> RunEvent:
        return _event(state, t0 + timedelta(seconds=at), run_id, job, inputs, outputs, run_facets)

    def load(load_id: str, version: int, contract: int, rows: int, offsets: list[dict]) -> dict:
        return {
            "streamproc_load": StreamprocLoadRunFacet(
                loadId=load_id,
                contract={"name": "flights", "version": str(contract), "hash": f"sha256:{contract}" * 2},
                table=TABLE,
                deltaVersion=version,
                rowsLanded=rows,
                rowsQuarantined=1,
                offsets=offsets,
            )
        }

    return [
        event(RunState.START, 0, [_topic(V1)], [_table(V1, version=None), _quarantine()]),
        event(
            RunState.RUNNING,
            10,
            [_topic(V1)],
            [_table(V1, version=0, rows=149), _quarantine()],
            load(
                "load-0000",
                0,
                1,
                149,
                [
                    {"topic": TOPIC, "partition": 0, "first": 0, "last": 99},
                    {"topic": TOPIC, "partition": 1, "first": 0, "last": 49},
                ],
            ),
        ),
        event(
            RunState.RUNNING,
            20,
            [_topic(V2)],
            [_table(V2, version=1, rows=99), _quarantine()],
            load("load-0001", 1, 2, 99, [{"topic": TOPIC, "partition": 0, "first": 100, "last": 199}]),
        ),
        event(RunState.COMPLETE, 30, [_topic(V2)], [_table(V2, version=None), _quarantine()]),
    ]


def emit_all(url: str, token: str, run_id: str | None = None) -> str:
    """Post the scenario through the openlineage-python HTTP transport; returns the run id."""
    evs = events(run_id)
    ol = client(url, token)
    for ev in evs:
        ol.emit(ev)
    return evs[0].run.runId


def window_events(run_id: str | None = None) -> list[RunEvent]:
    """START; one RUNNING summarising three loads (Delta versions 0, 1, 2; ``streamproc_loads``, the newest also in
    ``streamproc_load``, the outputs' ``version`` = 2); COMPLETE. Each load covers 50 offsets of partition 0."""
    run_id = run_id or str(uuid.uuid4())
    t0 = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
    job = Job(namespace=JOB_NS, name=JOB)

    def event(state: RunState, at: int, outputs: list, run_facets: dict | None = None) -> RunEvent:
        return _event(state, t0 + timedelta(seconds=at), run_id, job, [_topic(V1)], outputs, run_facets)

    loads = [
        StreamprocLoadRunFacet(
            loadId=f"window-load-{v}",
            contract={"name": "flights", "version": "1", "hash": "sha256:1"},
            table=TABLE,
            deltaVersion=v,
            rowsLanded=50,
            rowsQuarantined=0,
            offsets=[{"topic": TOPIC, "partition": 0, "first": 50 * v, "last": 50 * v + 49}],
        )
        for v in range(3)
    ]
    window = {"streamproc_load": loads[-1], "streamproc_loads": StreamprocLoadsRunFacet(loads=loads)}
    return [
        event(RunState.START, 0, [_table(V1, version=None), _quarantine()]),
        event(RunState.RUNNING, 60, [_table(V1, version=2, rows=150), _quarantine()], window),
        event(RunState.COMPLETE, 70, [_table(V1, version=None), _quarantine()]),
    ]
