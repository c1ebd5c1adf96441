"""The quarantine of a table: what its rejected events were refused for, over time, and samples of them.

Counts per load come from the catalog (the ``streamproc_load`` facets' ``rowsQuarantined``); the reasons and samples
come from the quarantine Delta table itself (``<table>__quarantine``, streamproc's docs/quarantine.md), read at
the location its lineage events name, through delta-rs's own query engine (``QueryBuilder``, DataFusion SQL): the
events are never sent to the catalog. Payloads are shown as the quarantine holds them: the runtime redacted them by
the contract's PII policy before they landed (masked, hashed, dropped fields), so the page shows no more than the
table may.

What replays made of the events (``open``, ``still_failing``, ``replayed``, ``value_discarded``) comes from the
resolutions table beside the quarantine (``catalog.query.resolutions``); the breakdowns by type, field, disposition
and time are of the refusals as quarantined.
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
from catalog.query.resolutions import STATES, resolutions_location, rows_with_state, summary
from catalog.storage import tables as t
from catalog.storage.reads import dataset_id, iso, job_id, namespace_name, resolve_dataset

__all__ = ["quarantine"]

_SAMPLE_TEXT = 2000  # characters of a payload shown; the rest is cut (the table keeps it whole)


def _sibling(session: Session, dataset: t.Dataset, name: str) -> t.Dataset | None:
    return session.scalar(select(t.Dataset).where(t.Dataset.namespace_id == dataset.namespace_id, t.Dataset.name == name))


def _open_resolutions(q: open_query, location: str) -> dict[str, Any]:
    """Register the quarantine's resolutions as ``r`` when there are any: ``{"location", "found", "error",
    "replays": [], "stillFailingByType": []}``."""
    where = resolutions_location(location)
    found, error = False, None
    try:
        found = q.also("r", where)
    except LAKE_ERRORS as exc:
        error = f"cannot read {where} from the catalog: {exc}"
    return {"location": where, "found": found, "error": error, "replays": [], "stillFailingByType": []}


def _resolution(row: Mapping[str, Any]) -> dict[str, Any] | None:
    if row.get("r_status") is None:
        return None
    return {
        "status": row["r_status"],
        "table": row["r_table"],
        "loadId": row["r_load_id"],
        "runId": row["r_run_id"],
        "contractVersion": row["r_contract_version"],
        "violations": row["r_violations"],
        "resolvedAt": iso(row["r_resolved_at"]),
    }


def _read_lake(location: str, storage_options: Mapping[str, str], *, samples: int, buckets: int) -> dict[str, Any]:
    q = open_query(location, storage_options)
    resolutions = _open_resolutions(q, location)
    known = resolutions["error"] is None  # else no state is known: the replays' verdicts could not be read
    resolved = resolutions["found"]  # else no replay ever ran: every event is open (or value_discarded)
    (span,) = q.rows("SELECT min(_ingested_at) AS first, max(_ingested_at) AS last, count(*) AS n FROM q")
    if not span["n"]:
        return {
            "rows": 0,
            "states": dict.fromkeys(STATES, 0) if known else None,
            "resolutions": resolutions,
            "byType": [],
            "byField": [],
            "byDisposition": [],
            "overTime": {"points": []},
            "samples": [],
        }
    states = None
    if known:
        found = summary(q, resolved=resolved)
        states = found["states"]
        resolutions |= {"replays": found["replays"], "stillFailingByType": found["stillFailingByType"]}
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
    resolution = ", r_status, r_table, r_load_id, r_run_id, r_contract_version, r_violations, r_resolved_at"
    newest = q.rows(
        (
            "SELECT _load_id, _ingested_at, _source, _topic, _partition, _offset, contract_version, disposition, "
            f"violations, removed_values, raw_text, state{resolution if resolved else ''} "
            f"FROM {rows_with_state(resolved=resolved)} s "
            f"ORDER BY _ingested_at DESC, _offset DESC LIMIT {int(samples)}"
        )
    )
    return {
        "rows": span["n"],
        "states": states,
        "resolutions": resolutions,
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
                "state": r["state"] if known else None,
                "resolution": _resolution(r),
            }
            for r in newest
        ],
    }


def _link_replays(session: Session, replays: list[dict[str, Any]]) -> None:
    """Give each replay load its table's and its job's ids (``tableId``, ``jobId``) as the catalog knows them from
    the replay's lineage events (``None`` before they arrive, or when the replay ran with lineage off)."""
    ids = [r["loadId"] for r in replays]
    found = session.scalars(select(t.Load).where(t.Load.load_id.in_(ids))) if ids else []
    loads = {load.load_id: load for load in found}
    for replay in replays:
        load = loads.get(replay["loadId"])
        if load is None:
            replay |= {"tableId": None, "jobId": None}
            continue
        run = session.get_one(t.Run, load.run_id)
        replay["tableId"] = dataset_id(session, session.get_one(t.Dataset, load.dataset_id))
        replay["jobId"] = job_id(session, session.get_one(t.Job, run.job_id))


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
        "removedValues", "payload" (as stored: redacted by the contract), "payloadCut", "state", "resolution":
        {"status", "table", "loadId", "runId", "contractVersion", "violations", "resolvedAt"} | None (the newest
        one)}], "states": {"open", "still_failing", "replayed", "value_discarded": events} | None, "resolutions":
        {"location", "found" (False: no replay ever ran, every event is ``open`` or ``value_discarded``), "error" |
        None, "replays": [{"loadId", "runId", "table" (its name), "tableId" | None, "jobId" | None,
        "contractVersion", "resolvedAt", "replayed", "stillFailing"}], "stillFailingByType": [{"type",
        "count"}]}} | None, "lakeError": why the table could not be read | None}``.

        The breakdowns (``byType``, ``byField``, ``byDisposition``, ``overTime``) count the violations as
        quarantined, not events (an event may have several). An event's ``state`` is its newest resolution's
        ``status``, else ``value_discarded`` (landed by the pipeline without the removed values) or ``open``
        (see ``catalog.query.resolutions``); a replay load counts the events whose newest resolution is its own,
        and ``stillFailingByType`` the violations those replays found. ``states`` and each ``state`` are ``None``
        when the resolutions table exists but cannot be read (``resolutions.error``).

    Example:
        ``quarantine(session, "table:orders")["lake"]["states"]`` → ``{"open": 1, "still_failing": 3,
        "replayed": 2, "value_discarded": 0}`` after a replay that accepted two events and refused three again.

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
    _link_replays(session, result["lake"]["resolutions"]["replays"])
    return result


