"""Prometheus metrics, when ``prometheus-client`` is installed (otherwise every call is a no-op and ``/metrics``
is not served).

- ``catalog_events_ingested_total{kind, event_type}``: accepted events (``kind`` = run / dataset / job;
  ``event_type`` = START, RUNNING, ... or ``none``).
- ``catalog_events_rejected_total{status}``: rejected events by HTTP status.
- ``catalog_http_requests_total{route, method, status}``: requests by route template.
- ``catalog_http_request_seconds{route, method}``: request latency histogram.

Each app gets its own registry, so several apps in one process (tests) do not clash.
"""

from __future__ import annotations

try:
    import prometheus_client as prom
except ImportError:  # optional dependency
    prom = None

__all__ = ["Metrics"]


class Metrics:
    """The catalog's metrics on a private registry."""

    def __init__(self) -> None:
        self.enabled = prom is not None
        if prom is None:
            return
        self.registry = prom.CollectorRegistry()
        self.ingested = prom.Counter(
            "catalog_events_ingested_total",
            "Accepted OpenLineage events",
            ["kind", "event_type"],
            registry=self.registry,
        )
        self.rejected = prom.Counter(
            "catalog_events_rejected_total", "Rejected OpenLineage events", ["status"], registry=self.registry
        )
        self.requests = prom.Counter(
            "catalog_http_requests_total", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = prom.Histogram(
            "catalog_http_request_seconds", "HTTP request latency", ["route", "method"], registry=self.registry
        )

    def event(self, kind: str, event_type: str | None) -> None:
        if self.enabled:
            self.ingested.labels(kind, event_type or "none").inc()

    def rejected_event(self, status: int) -> None:
        if self.enabled:
            self.rejected.labels(str(status)).inc()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        if self.enabled:
            self.requests.labels(route, method, str(status)).inc()
            self.latency.labels(route, method).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The text exposition and its content type."""
        if prom is None:
            return b"", "text/plain"
        return prom.generate_latest(self.registry), prom.CONTENT_TYPE_LATEST

    def __repr__(self) -> str:
        return f"Metrics(enabled={self.enabled})"
