"""Human-readable tables for the CLI (rich). Each function takes the dict the query API returns."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["RENDERERS"]


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def lineage(console: Console, data: dict[str, Any]) -> None:
    nodes = _table(
        f"Lineage of {data['root']} (depth {data['depth']}, {data['direction']})",
        "distance",
        "type",
        "namespace",
        "name",
    )
    for n in data["nodes"]:
        nodes.add_row(str(n["distance"]), n["type"], n["namespace"], n["name"])
    console.print(nodes)
    edges = _table("Edges (data flows origin → destination)", "origin", "destination")
    for e in data["edges"]:
        edges.add_row(e["origin"], e["destination"])
    console.print(edges)


def column_lineage(console: Console, data: dict[str, Any]) -> None:
    table = _table(f"Column lineage of {data['root']}", "origin", "→ destination", "transformation")
    for e in data["edges"]:
        how = " ".join(x for x in (e["transformationType"], e["transformationDescription"]) if x)
        table.add_row(e["origin"], e["destination"], how)
    if not data["edges"]:
        table.add_row(data["root"], "(no column lineage recorded)", "")
    console.print(table)


def schema_history(console: Console, data: dict[str, Any]) -> None:
    ds = data["dataset"]
    table = _table(f"Schema history of {ds['id']}", "#", "since", "delta version", "contract", "fields", "change")
    for index, v in enumerate(data["versions"], start=1):
        contract = f"{v['contract']['name']} v{v['contract']['version']}" if v["contract"] else "-"
        diff = v["diff"]
        if diff is None:
            change = "initial"
        else:
            parts = [f"+{a['name']} ({a['type']})" for a in diff["added"]]
            parts += [f"-{r['name']}" for r in diff["removed"]]
            parts += [f"~{c['name']} {c['from']}→{c['to']}" for c in diff["typeChanged"]]
            change = ("BREAKING: " if diff["breaking"] else "compatible: ") + (", ".join(parts) or "no field change")
        table.add_row(str(index), v["createdAt"], v["datasetVersion"] or "-", contract, str(len(v["fields"])), change)
    console.print(table)


def _print(console: Console, table: Table, *, empty: str) -> None:
    """``table``, or the sentence ``empty`` when it has no rows (a titled empty grid reads as a rendering fault)."""
    console.print(table if table.row_count else empty)


def pii(console: Console, data: dict[str, Any]) -> None:
    title = "PII and tags" + (f" matching {data['tag']!r}" if data["tag"] else "")
    table = _table(title, "namespace", "dataset", "column", "type", "tag", "meaning")
    for i in data["items"]:
        table.add_row(
            i["namespace"], i["dataset"], i["field"] or "(dataset)", i["type"] or "", i["tag"], i["description"] or ""
        )
    empty = f"no dataset or column has a tag matching {data['tag']!r}" if data["tag"] else "no dataset has a tag yet"
    _print(console, table, empty=empty)


def loads(console: Console, data: dict[str, Any]) -> None:
    if "offset" in data:
        where = f"{data['topic']}[{data['partition']}]@{data['offset']}"
        # A pipeline load's offsets are every event it read, landed or quarantined; a replay load's, those it landed.
        title = f"Loads that read {where} (landed it, or quarantined it: a replay load lists only what it landed)"
        empty = f"no load read {where}"
    else:
        title = f"Loads into {data['dataset']['id']}"
        empty = f"no loads into {data['dataset']['id']} yet"
    table = _table(title, "delta version", "load id", "contract", "rows", "quarantined", "offsets", "run", "at")
    for load in data["loads"]:
        offsets = ", ".join(f"{o['topic']}[{o['partition']}] {o['first']}..{o['last']}" for o in load["offsets"])
        contract = f"{load['contract']['name']} v{load['contract']['version']}"
        table.add_row(
            str(load["deltaVersion"]),
            load["loadId"],
            contract,
            str(load["rowsLanded"]),
            str(load["rowsQuarantined"]),
            offsets,
            f"{load['runId']} ({load['runState']})",
            load["createdAt"],
        )
    _print(console, table, empty=empty)


def search(console: Console, data: dict[str, Any]) -> None:
    table = _table(f"Search {data['q']!r}", "type", "namespace", "name", "also known as", "updated")
    for r in data["results"]:
        table.add_row(r["type"], r["namespace"], r["name"], ", ".join(r["symlinks"]), r["updatedAt"] or "")
    _print(console, table, empty=f"no dataset or job name contains {data['q']!r}")


RENDERERS = {
    "lineage": lineage,
    "column-lineage": column_lineage,
    "schema-history": schema_history,
    "pii": pii,
    "loads": loads,
    "search": search,
}
