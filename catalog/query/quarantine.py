"""The quarantine of a table: what its rejected events were refused for, over time, and samples of them.

Counts per load come from the catalog (the ``streamproc_load`` facets' ``rowsQuarantined``); the reasons and samples
come from the quarantine Delta table itself (``<table>__quarantine``, streamproc's docs/quarantine.md), read at
the location its lineage events name, through delta-rs's own query engine (``QueryBuilder``, DataFusion SQL): the
events are never sent to the catalog. Payloads are shown as the quarantine holds them: the runtime redacted them by
the contract's PII policy before they landed (masked, hashed, dropped fields), so the page shows no more than the
table may.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.query.datasets import QUARANTINE_SUFFIX, dataset_kind, dataset_ref
from catalog.query.lake import LAKE_ERRORS, dataset_location, open_query
from catalog.query.loads import load_series
from catalog.storage import tables as t
from catalog.storage.reads import dataset_id, iso, namespace_name, resolve_dataset

__all__ = ["quarantine"]

_SAMPLE_TEXT = 2000  # characters of a payload shown; the rest is cut (the table keeps it whole)


def _sibling(session: Session, dataset: t.Dataset, name: str) -> t.Dataset | None:
    return session.scalar(select(t.Dataset).where(t.Dataset.namespace_id == dataset.namespace_id, t.Dataset.name == name))


def _read_lake(location: str, storage_options: Mapping[str, str], *, samples: int, buckets: int) -> dict[str, Any]:
    q = open_query(location, storage_options)
    (span,) = q.rows("SELECT min(_ingested_at) AS first, max(_ingested_at) AS last, count(*) AS n FROM q")
    if not span["n"]:
        return {"rows": 0, "byType": [], "byField": [], "byDisposition": [], "overTime": {"points": []}, "samples": []}
    seconds = max(1, math.ceil((span["last"] - span["first"]).total_seconds() / buckets))
    unnested = "(SELECT _ingested_at, unnest(violations) AS v FROM q)"
    by_type = q.rows(f"SELECT v['type'] AS type, count(*) AS n FROM {unnested} GROUP BY 1 ORDER BY 2 DESC, 1")
    by_field = q.rows(f"SELECT v['loc'] AS field, count(*) AS n FROM {unnested} GROUP BY 1 ORDER BY 2 DESC, 1")
    by_disposition = q.rows("SELECT disposition, count(*) AS n FROM q GROUP BY 1 ORDER BY 2 DESC, 1")
    binned = q.rows(
        (
            f"SELECT date_bin(INTERVAL '{seconds} seconds', _ingested_at, TIMESTAMP '1970-01-01T00:00:00Z') AS at, "
            f"v['type'] AS type, v['loc'] AS field, count(*) AS n FROM {unnested} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        )
    )
    points: dict[datetime, dict[str, Any]] = {}
    for row in binned:
        point = points.setdefault(row["at"], {"at": iso(row["at"]), "t": row["at"].timestamp(), "byType": {}, "byField": {}})
        point["byType"][row["type"]] = point["byType"].get(row["type"], 0) + row["n"]
        point["byField"][row["field"]] = point["byField"].get(row["field"], 0) + row["n"]
    newest = q.rows(
        (
            "SELECT _load_id, _ingested_at, _source, _topic, _partition, _offset, contract_version, disposition, "
            f"violations, removed_values, raw_text FROM q ORDER BY _ingested_at DESC, _offset DESC LIMIT {int(samples)}"
        )
    )
    return {
        "rows": span["n"],
        "byType": [{"type": r["type"], "count": r["n"]} for r in by_type],
        "byField": [{"field": r["field"], "count": r["n"]} for r in by_field],
        "byDisposition": [{"disposition": r["disposition"], "count": r["n"]} for r in by_disposition],
        "overTime": {"bucketSeconds": seconds, "points": [points[k] for k in sorted(points)]},
        "samples": [
            {
                "loadId": r["_load_id"],
                "ingestedAt": iso(r["_ingested_at"]),
                "source": r["_source"],
                "topic": r["_topic"],
                "partition": r["_partition"],
                "offset": r["_offset"],
                "contractVersion": r["contract_version"],
                "disposition": r["disposition"],
                "violations": r["violations"],
                "removedValues": r["removed_values"],
                "payload": None if r["raw_text"] is None else r["raw_text"][:_SAMPLE_TEXT],
                "payloadCut": r["raw_text"] is not None and len(r["raw_text"]) > _SAMPLE_TEXT,
            }
            for r in newest
        ],
    }


def quarantine(
    session: Session,
    ref: str,
    *,
    storage_options: Mapping[str, str] | None = None,
    samples: int = 20,
    buckets: int = 30,
) -> dict[str, Any]:
    """The quarantine of the table ``ref`` names (or of the quarantine table itself).

    Returns:
        ``{"dataset": the quarantine's ref | None, "table": the table's ref | None, "location", "fromLoads":
        {"rowsQuarantined", "points": as ``load_series``}, "lake": {"rows", "byType": [{"type", "count"}],
        "byField": [{"field" (the violation's ``loc``; "" for the whole payload), "count"}], "byDisposition":
        [{"disposition", "count"}], "overTime": {"bucketSeconds", "points": [{"at", "t", "byType": {type: n},
        "byField": {field: n}}]}, "samples": [{"loadId", "ingestedAt", "source", "topic", "partition", "offset",
        "contractVersion", "disposition", "violations": [{"loc", "type", "message", "entity", "mode"}],
        "removedValues", "payload" (as stored: redacted by the contract), "payloadCut"}]} | None, "lakeError": why
        the table could not be read | None}``; counts of violations, not of events (an event may have several).

    Raises:
        NotFoundError, AmbiguousNameError: see ``resolve_dataset``.
    """
    dataset = resolve_dataset(session, ref)
    namespace = namespace_name(session, dataset.namespace_id)
    if dataset_kind(namespace, dataset) == "QUARANTINE":
        q_ds, table = dataset, _sibling(session, dataset, dataset.name.rstrip("/")[: -len(QUARANTINE_SUFFIX)])
    else:
        q_ds, table = _sibling(session, dataset, dataset.name.rstrip("/") + QUARANTINE_SUFFIX), dataset
    series = load_series(session, dataset_id(session, table)) if table is not None else {"points": []}
    result: dict[str, Any] = {
        "dataset": dataset_ref(session, q_ds) if q_ds is not None else None,
        "table": dataset_ref(session, table) if table is not None else None,
        "location": None,
        "fromLoads": {
            "rowsQuarantined": sum(p["rowsQuarantined"] for p in series["points"]),
            "points": series["points"],
        },
        "lake": None,
        "lakeError": None,
    }
    if q_ds is None:
        result["lakeError"] = "no quarantine table is known for this dataset"
        return result
    location = dataset_location(namespace, q_ds.name)
    result["location"] = location
    try:
        result["lake"] = _read_lake(location, storage_options or {}, samples=samples, buckets=buckets)
    except LAKE_ERRORS as exc:
        result["lakeError"] = f"cannot read {location} from the catalog: {exc}"
    return result


