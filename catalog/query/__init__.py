"""The catalog's own query API: plain JSON-able dicts, served under ``/api/v1/catalog/*`` and printed by the CLI.

Every function takes an open session; dataset references are resolved by ``catalog.storage.reads.resolve_dataset``
(``dataset:<ns>:<name>``, ``<ns>:<name>``, ``table:<name>``, ``topic:<name>``, or a bare name: a symlink name first,
then a dataset name).

Raises (all functions taking a dataset reference):
    NotFoundError: no such dataset (or field).
    AmbiguousNameError: a bare name matches several datasets.
"""


from catalog.query.lineage import column_lineage, graph, lineage
from catalog.query.loads import load_series, loads, loads_for_offset
from catalog.query.pii import pii, pii_map
from catalog.query.schema import diff_fields, schema_history
from catalog.query.search import search

__all__ = [
    "column_lineage",
    "diff_fields",
    "graph",
    "lineage",
    "load_series",
    "loads",
    "loads_for_offset",
    "pii",
    "pii_map",
    "schema_history",
    "search",
]
