"""Read helpers shared by the catalog query API (``catalog.query``) and the Marquez layer (``catalog.marquez``):
resolving names, node ids, the lineage graph walk, and a dataset's current fields and tags.

Node ids follow Marquez: ``dataset:<namespace>:<name>``, ``job:<namespace>:<name>``,
``datasetField:<namespace>:<name>:<field>``. Namespaces may contain ``:`` (``kafka://host:9092``), so ids are
resolved against the stored namespaces rather than split blindly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import AmbiguousNameError, NotFoundError
from catalog.storage import tables as t
from catalog.storage.writer import utc

__all__ = [
    "TABLE_PREFIX",
    "TOPIC_PREFIX",
    "Direction",
    "Graph",
    "NodeKey",
    "current_fields",
    "dataset_id",
    "dataset_tags",
    "field_tags",
    "iso",
    "job_id",
    "namespace_name",
    "resolve_dataset",
    "resolve_job",
    "resolve_node",
    "walk",
]

Direction = Literal["up", "down", "both"]
NodeKey = tuple[Literal["dataset", "job"], int]


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` suffix, or ``None``."""
    if value is None:
        return None
    return utc(value).isoformat().replace("+00:00", "Z")


def namespace_name(session: Session, namespace_id: int) -> str:
    return session.get_one(t.Namespace, namespace_id).name


def dataset_id(session: Session, dataset: t.Dataset) -> str:
    return f"dataset:{namespace_name(session, dataset.namespace_id)}:{dataset.name}"


def job_id(session: Session, job: t.Job) -> str:
    return f"job:{namespace_name(session, job.namespace_id)}:{job.name}"


def _split_candidates(session: Session, text: str) -> list[tuple[str, str]]:
    """Every ``(namespace, rest)`` split of ``text`` at a ``:`` whose left part is a stored namespace."""
    pairs = []
    for index, char in enumerate(text):
        if char == ":" and session.scalar(select(t.Namespace.id).where(t.Namespace.name == text[:index])):
            pairs.append((text[:index], text[index + 1 :]))
    return pairs


def _by_ns_name(session: Session, namespace: str, name: str) -> t.Dataset | None:
    return session.scalar(
        select(t.Dataset)
        .join(t.Namespace, t.Namespace.id == t.Dataset.namespace_id)
        .where(t.Namespace.name == namespace, t.Dataset.name == name)
    )


TABLE_PREFIX = "table:"
TOPIC_PREFIX = "topic:"
_KAFKA = "kafka://"  # the OpenLineage naming spec's Kafka namespace: kafka://{host}:{port}


def resolve_dataset(session: Session, ref: str, *, namespace: str | None = None) -> t.Dataset:
    """Find a dataset by ``dataset:<ns>:<name>``, ``<ns>:<name>``, ``table:<name>``, ``topic:<name>``, or a bare name.

    - ``table:<name>``: a dataset with a symlink (its logical name) ``<name>``, else one named ``<name>`` outside a
      ``kafka://`` namespace.
    - ``topic:<name>``: a dataset named ``<name>`` in a ``kafka://`` namespace (OpenLineage naming spec).
    - a bare name: a symlink name first (``flights`` means the table whose logical name is ``flights``, not the
      ``flights`` topic it is landed from), else a dataset name.

    Raises:
        NotFoundError: nothing matches.
        AmbiguousNameError: the name matches several datasets at the same rank (two tables with the same logical
            name, two brokers with the same topic); the message lists them as ``dataset:<ns>:<name>``.
    """
    if namespace is not None:
        found = _by_ns_name(session, namespace, ref)
        if found is None:
            raise NotFoundError(f"no dataset {ref!r} in namespace {namespace!r}")
        return found
    text = ref[len("dataset:") :] if ref.startswith("dataset:") else ref
    for ns, name in _split_candidates(session, text):
        found = _by_ns_name(session, ns, name)
        if found is not None:
            return found
    if text.startswith(TOPIC_PREFIX):
        name = text[len(TOPIC_PREFIX) :]
        ranks = [[d for d in _named(session, name) if _is_topic(session, d)]]
    elif text.startswith(TABLE_PREFIX):
        name = text[len(TABLE_PREFIX) :]
        ranks = [_symlinked(session, name), [d for d in _named(session, name) if not _is_topic(session, d)]]
    else:
        ranks = [_symlinked(session, text), _named(session, text)]
    for matches in ranks:
        if len(matches) == 1:
            return matches[0]
        if matches:
            candidates = [dataset_id(session, d) for d in matches]
            raise AmbiguousNameError(
                f"{ref!r} names several datasets: {', '.join(candidates)}; name one as dataset:<namespace>:<name>",
                candidates=candidates,
            )
    if session.scalar(select(t.Dataset.id).limit(1)) is None:
        # "try search" would find nothing either: say why, and how datasets get here
        raise NotFoundError(
            f"no dataset named {ref!r}: the catalog holds no datasets yet (it learns them from OpenLineage events: "
            "run a pipeline with `lineage: {enabled: true}` sending to this catalog, or `streamproc lineage backfill`)"
        )
    raise NotFoundError(f"no dataset named {ref!r} (try `search`)")


def _named(session: Session, name: str) -> list[t.Dataset]:
    return list(session.scalars(select(t.Dataset).where(t.Dataset.name == name).order_by(t.Dataset.id)))


def _symlinked(session: Session, name: str) -> list[t.Dataset]:
    linked = select(t.DatasetSymlink.dataset_id).where(t.DatasetSymlink.name == name)
    return list(session.scalars(select(t.Dataset).where(t.Dataset.id.in_(linked)).order_by(t.Dataset.id)))


def _is_topic(session: Session, dataset: t.Dataset) -> bool:
    return namespace_name(session, dataset.namespace_id).startswith(_KAFKA)


def resolve_job(session: Session, ref: str) -> t.Job:
    """Find a job by ``job:<ns>:<name>`` or ``<ns>:<name>``.

    Raises:
        NotFoundError: nothing matches.
    """
    text = ref[len("job:") :] if ref.startswith("job:") else ref
    for ns, name in _split_candidates(session, text):
        found = session.scalar(
            select(t.Job)
            .join(t.Namespace, t.Namespace.id == t.Job.namespace_id)
            .where(t.Namespace.name == ns, t.Job.name == name)
        )
        if found is not None:
            return found
    raise NotFoundError(f"no job {ref!r}")


def resolve_node(session: Session, node_id: str) -> NodeKey:
    """``job:...`` → the job, anything else → a dataset (see ``resolve_dataset``).

    Raises:
        NotFoundError: no such node.
    """
    if node_id.startswith("job:"):
        return ("job", resolve_job(session, node_id).id)
    return ("dataset", resolve_dataset(session, node_id).id)


@dataclass
class Graph:
    """Nodes reached by ``walk`` and the directed edges between them (``origin`` feeds ``destination``)."""

    nodes: dict[NodeKey, int] = field(default_factory=dict)  # node → distance in edges from the start
    edges: set[tuple[NodeKey, NodeKey]] = field(default_factory=set)


def walk(session: Session, start: NodeKey, *, depth: int, direction: Direction) -> Graph:
    """Breadth-first walk of the job/dataset graph from ``start``.

    ``depth`` counts jobs crossed: ``depth=1`` from a table upstream reaches its writing job and that job's inputs.
    An edge ``dataset → job`` means the job reads the dataset; ``job → dataset`` that it writes it.
    """
    links = session.execute(select(t.JobDataset.job_id, t.JobDataset.dataset_id, t.JobDataset.direction)).all()
    upstream: dict[NodeKey, set[NodeKey]] = {}
    downstream: dict[NodeKey, set[NodeKey]] = {}
    for job, dataset, way in links:
        origin, dest = (("dataset", dataset), ("job", job)) if way == "in" else (("job", job), ("dataset", dataset))
        downstream.setdefault(origin, set()).add(dest)  # type: ignore[arg-type]
        upstream.setdefault(dest, set()).add(origin)  # type: ignore[arg-type]
    graph = Graph(nodes={start: 0})
    limit = 2 * max(depth, 0) - (1 if start[0] == "job" else 0)
    queue = deque([start])
    while queue:
        node = queue.popleft()
        distance = graph.nodes[node]
        if distance >= limit:
            continue
        steps = []
        if direction in ("up", "both"):
            steps += [(other, (other, node)) for other in upstream.get(node, ())]
        if direction in ("down", "both"):
            steps += [(other, (node, other)) for other in downstream.get(node, ())]
        for other, edge in steps:
            graph.edges.add(edge)  # type: ignore[arg-type]
            if other not in graph.nodes:
                graph.nodes[other] = distance + 1
                queue.append(other)
    graph.edges = {e for e in graph.edges if e[0] in graph.nodes and e[1] in graph.nodes}
    return graph


def current_fields(session: Session, dataset: t.Dataset) -> tuple[t.DatasetVersion | None, list[t.Field]]:
    """The dataset's latest version and the fields of the latest version that has a schema."""
    latest = session.scalar(
        select(t.DatasetVersion).where(t.DatasetVersion.dataset_id == dataset.id).order_by(t.DatasetVersion.id.desc())
    )
    with_schema = session.scalar(
        select(t.DatasetVersion)
        .where(t.DatasetVersion.dataset_id == dataset.id, t.DatasetVersion.schema_version_id.is_not(None))
        .order_by(t.DatasetVersion.id.desc())
    )
    if with_schema is None:
        return latest, []
    fields = session.scalars(
        select(t.Field).where(t.Field.schema_version_id == with_schema.schema_version_id).order_by(t.Field.position)
    ).all()
    return latest, list(fields)


def dataset_tags(session: Session, dataset: t.Dataset) -> list[t.Tag]:
    return list(
        session.scalars(
            select(t.Tag)
            .join(t.DatasetTag, t.DatasetTag.tag_id == t.Tag.id)
            .where(t.DatasetTag.dataset_id == dataset.id)
            .order_by(t.Tag.name)
        )
    )


def field_tags(session: Session, dataset: t.Dataset) -> dict[str, list[t.Tag]]:
    """Field name → its tags (sorted by name)."""
    rows = session.execute(
        select(t.FieldTag.field, t.Tag)
        .join(t.Tag, t.Tag.id == t.FieldTag.tag_id)
        .where(t.FieldTag.dataset_id == dataset.id)
        .order_by(t.FieldTag.field, t.Tag.name)
    ).all()
    result: dict[str, list[t.Tag]] = {}
    for name, tag in rows:
        result.setdefault(name, []).append(tag)
    return result
