"""HTTP routes: ``ingest`` (POST OpenLineage events), ``query`` (the catalog's own JSON query API), ``marquez``
(Marquez-compatible reads), ``meta`` (health and metrics)."""

from catalog.routes import ingest, marquez, meta, query

__all__ = ["ingest", "marquez", "meta", "query"]
