"""The HTTP source's Prometheus metrics (prometheus-client's default registry), counted by its endpoint
(:mod:`streamproc.sources.http.app`); :mod:`streamproc.observe.metrics` lists them with every other metric."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

__all__ = ["HTTP_REQUESTS", "HTTP_REQUEST_DURATION"]

# As for every streamproc metric: the `_created` series double the exposition for little use (whichever module is
# imported first disables them, process-wide).
disable_created_metrics()

HTTP_REQUESTS = Counter(
    "streamproc_http_requests",
    "HTTP requests to the HTTP source, by route template, method and status code.",
    ("route", "method", "status"),
)
"""``route`` is the route template (``/v1/batch``, ``/ingest/{contract}``), never the raw path."""

HTTP_REQUEST_DURATION = Histogram(
    "streamproc_http_request_duration_seconds",
    "Seconds from an HTTP request's arrival to its response (events durable before a 2xx).",
    ("route", "method"),
)
