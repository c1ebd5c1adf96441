"""Marquez-compatible reads, so Marquez's web UI and clients can read this catalog.

Shapes follow Marquez's ``spec/openapi.yml`` and its ``marquez.service.models`` classes: entities (namespaces,
datasets and versions, jobs, runs, search, tags, raw events) in ``entities``, lineage graphs in ``lineage``.
"""

from catalog.marquez.entities import (
    dataset,
    dataset_versions,
    datasets,
    events,
    job,
    jobs,
    namespaces,
    runs,
    search,
    tags,
)
from catalog.marquez.lineage import column_lineage_graph, lineage_graph

__all__ = [
    "column_lineage_graph",
    "dataset",
    "dataset_versions",
    "datasets",
    "events",
    "job",
    "jobs",
    "lineage_graph",
    "namespaces",
    "runs",
    "search",
    "tags",
]
