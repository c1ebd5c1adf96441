"""The UI's pages (HTML): home and search, lineage graph, dataset, quarantine, job (and a run's events), PII map.

Every page reads through ``catalog.query``; a name that matches nothing (or several datasets) renders a page that
says so, with status 404 (409 for several); a page that shows one item, asked for without its ``id``, one with 400.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from catalog import query
from catalog.errors import AmbiguousNameError, NotFoundError
from catalog.query import activity, datasets, jobs, quarantine
from catalog.query.lake import contract_origins, dataset_location
from catalog.routes.deps import session
from catalog.ui.render import page
from catalog.ui.session import require_session

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(require_session)], include_in_schema=False, default_response_class=HTMLResponse)
SearchBy = Literal["name", "namespace", "tag", "field"]


def _or_not_found(
    request: Request, build: Callable[[], dict[str, Any]], template: str, *, named: str | None = None
) -> Response:
    """The page ``template`` with what ``build`` returns; a page that says what is missing, else.

    ``named``: the ``id`` the page was asked for, when it takes one (an address without it, typed or cut short,
    gets a page saying so, not the framework's JSON ``422``).
    """
    if named is not None and not named.strip():
        message = (
            f"{request.url.path} shows one item: name it with ?id=… (open it from the search, the lineage graph or "
            "another page)"
        )
        return page(request, "missing.html", status_code=400, heading="Which one?", message=message, candidates=[])
    try:
        context = build()
    except AmbiguousNameError as exc:
        return page(request, "missing.html", status_code=409, message=str(exc), candidates=exc.candidates)
    except NotFoundError as exc:
        return page(request, "missing.html", status_code=404, message=str(exc), candidates=[])
    return page(request, template, **context)


@router.get("/")
def home(request: Request, s: Session = Depends(session)) -> Response:
    return search(request, s=s)


@router.get("/search")
def search(request: Request, q: str = "", by: SearchBy = "name", s: Session = Depends(session)) -> Response:
    """The home page with the results of ``q`` (everything when empty); only the results for htmx."""
    found = query.search(s, q, by=by, limit=200)
    if request.headers.get("hx-request"):
        return page(request, "_results.html", found=found)
    return page(
        request,
        "home.html",
        counts=activity.overview(s),
        recent=activity.recent_loads(s),
        growing=activity.quarantine_growth(s),
        found=found,
        q=q,
        by=by,
    )


@router.get("/lineage")
def lineage(
    request: Request,
    node: str | None = None,
    depth: int = Query(3, ge=1, le=20),
    direction: Literal["up", "down", "both"] = "both",
    s: Session = Depends(session),
) -> Response:
    def build() -> dict[str, Any]:
        fields: list[str] = []
        if node is not None and not node.startswith("job:"):
            fields = [f["name"] for f in datasets.dataset_page(s, node)["fields"]]
        elif node is not None:
            jobs.job_page(s, node)  # 404 for an unknown job
        return {"node": node, "depth": depth, "direction": direction, "fields": fields}

    return _or_not_found(request, build, "lineage.html")


def _side_by_side(versions: list[dict[str, Any]], a: int, b: int) -> dict[str, Any]:
    """Rows of two schema versions aligned by column name, each marked added / removed / changed / same."""
    left, right = versions[a], versions[b]
    before = {f["name"]: f for f in left["fields"]}
    after = {f["name"]: f for f in right["fields"]}
    names = list(before) + [n for n in after if n not in before]
    diff = query.diff_fields(left["fields"], right["fields"])
    changed = {c["name"]: c for c in diff["typeChanged"]}
    rows = []
    for name in names:
        status = "same"
        if name not in before:
            status = "added"
        elif name not in after:
            status = "removed"
        elif name in changed:
            status = "breaking-type" if changed[name]["breaking"] else "widened"
        rows.append({"name": name, "left": before.get(name), "right": after.get(name), "status": status})
    return {"a": a, "b": b, "left": left, "right": right, "rows": rows, "diff": diff}


@router.get("/dataset")
def dataset(
    request: Request, id: str = "", a: int | None = None, b: int | None = None, s: Session = Depends(session)
) -> Response:
    settings = request.app.state.settings

    def build() -> dict[str, Any]:
        info = datasets.dataset_page(s, id)
        history = query.schema_history(s, id)["versions"]
        origins = contract_origins(
            dataset_location(info["dataset"]["namespace"], info["dataset"]["name"]), settings.lake_storage_options
        ) if info["kind"] in ("TABLE", "QUARANTINE") else {}
        for version in history:
            contract = version["contract"]
            version["origin"] = origins.get((contract["name"], contract["version"])) if contract else None
        compare = None
        if len(history) > 1:
            right = b if b is not None and 0 <= b < len(history) else len(history) - 1
            left = a if a is not None and 0 <= a < len(history) else max(0, right - 1)
            compare = _side_by_side(history, left, right)
        loads = query.loads(s, id)["loads"] if info["kind"] == "TABLE" else []
        series = query.load_series(s, id)["points"] if loads else []
        return {"info": info, "history": history, "compare": compare, "loads": loads[:100], "series": series}

    return _or_not_found(request, build, "dataset.html", named=id)


@router.get("/quarantine")
def quarantine_view(request: Request, id: str = "", s: Session = Depends(session)) -> Response:
    options = request.app.state.settings.lake_storage_options
    return _or_not_found(
        request, lambda: {"q": quarantine.quarantine(s, id, storage_options=options)}, "quarantine.html", named=id
    )


@router.get("/job")
def job(request: Request, id: str = "", s: Session = Depends(session)) -> Response:
    return _or_not_found(request, lambda: {"job": jobs.job_page(s, id)}, "job.html", named=id)


@router.get("/run")
def run(request: Request, id: str = "", s: Session = Depends(session)) -> Response:
    return _or_not_found(request, lambda: {"run": jobs.run_events(s, id)}, "_run.html", named=id)


@router.get("/pii")
def pii_map(request: Request, s: Session = Depends(session)) -> Response:
    return page(request, "pii.html", columns=query.pii_map(s)["columns"])
