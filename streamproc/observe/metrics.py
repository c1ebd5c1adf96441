"""Prometheus metrics of a streamproc process (prometheus-client, on its default registry).

Names follow the Prometheus conventions: ``streamproc_`` prefix, base units (seconds, bytes), ``_total`` on
counters, labels of bounded cardinality (no offsets, keys or field values). The registry also carries
prometheus-client's process and platform collectors (``process_*``, ``python_*``).

Pipeline metrics (label ``pipeline`` = the config's ``name``; ``contract``/``contract_version`` = the contract version
the rows carry in ``_contract_version``: the declared one, or the one ``evolve`` inferred):

=============================================== ========= ===========================================================
name                                            type      meaning
=============================================== ========= ===========================================================
``streamproc_events_received_total``            counter   events taken from the source into a micro-batch
``streamproc_events_landed_total``              counter   rows appended to the table (``_loads.rows_landed``)
``streamproc_events_quarantined_total``         counter   rows appended to the quarantine table, by ``disposition``
                                                          (malformed, row_discarded, value_discarded) and ``reason``
                                                          (json_invalid, utf8_invalid, not_an_object, columns,
                                                          data_type)
``streamproc_events_discarded_total``           counter   events a ``discard_row``/``discard_value`` mode applied to,
                                                          by ``mode`` (each is also quarantined: nothing is dropped)
``streamproc_events_redelivered_total``         counter   events skipped because the lake already held them
``streamproc_batches_total``                    counter   loads, by ``close_reason`` (rows, bytes, linger, ...)
``streamproc_batch_events``                     histogram events per micro-batch
``streamproc_batch_bytes``                      histogram payload bytes per micro-batch
``streamproc_batch_open_events``                gauge     events in the open micro-batch, not yet closed for landing
``streamproc_load_duration_seconds``            histogram validation + the three commits of one load
``streamproc_delta_commit_duration_seconds``    histogram one Delta commit, by ``table`` (table, quarantine, loads)
``streamproc_delta_commit_retries_total``       counter   loads retried after a failed commit, by ``reason``
                                                          (conflict: a concurrent writer won; storage: I/O error)
``streamproc_delta_commit_conflicts_total``     counter   failed commits lost to a concurrent writer
``streamproc_storage_writable``                 gauge     1 while the last commit succeeded, 0 while retrying
``streamproc_consumer_lag_records``             gauge     per ``topic``/``partition``: high watermark - next offset to
                                                          land (what is in Kafka and not yet in the lake)
``streamproc_assigned_partitions``              gauge     partitions this member owns
``streamproc_end_to_end_latency_seconds``       histogram Kafka record timestamp → Delta commit, per landed event
``streamproc_last_commit_timestamp_seconds``    gauge     Unix time of the last load committed
``streamproc_schema_evolutions_total``          counter   loads under a contract whose schema hash differs from the
                                                          one the table's previous load recorded: a new declared
                                                          version, or one ``evolve`` inferred
``streamproc_contract_info``                    gauge     1, labelled with the ``version`` and ``hash`` the pipeline's
                                                          last load landed under (the declared one before it)
``streamproc_build_info``                       gauge     1, labelled with the streamproc ``version``
=============================================== ========= ===========================================================

Metric objects for other parts of the process (they call them; nothing here does):

- Quarantine replay (:mod:`streamproc.ops.quarantine.replay`, label ``pipeline`` and the ``table`` replayed into):
  :data:`QUARANTINE_REPLAYED` (``streamproc_quarantine_replayed_rows_total``: quarantined events landed by a replay)
  and :data:`QUARANTINE_STILL_FAILING` (``streamproc_quarantine_still_failing_rows_total``: re-checked and refused
  again). ``streamproc quarantine replay`` is a short command with no ``/metrics`` endpoint: they count there only
  for a process that embeds the replay and serves its registry; the command reports the same numbers in its summary,
  and each replay load's ``_loads`` row (``close_reason: replay``) has its ``rows_landed``.

- HTTP source: :data:`HTTP_REQUESTS` (``route``, ``method``, ``status``) and :data:`HTTP_REQUEST_DURATION`
  (``route``, ``method``), defined beside the endpoint that counts them (:mod:`streamproc.sources.http.metrics`)
  and listed here, so that this module names every metric streamproc exposes.
- OpenLineage emission, both by ``pipeline`` (each pipeline of a process has its own outbox and delivery thread):
  :data:`OPENLINEAGE_DELIVERIES` (``event_type`` = START/RUNNING/COMPLETE/FAIL/ABORT/OTHER, ``outcome`` =
  success/failure) and :data:`OPENLINEAGE_OUTBOX_EVENTS` (events waiting in the pipeline's outbox).

:class:`PrometheusObserver` (in :mod:`streamproc.observe.prometheus`) feeds the pipeline metrics from the run's hooks.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from streamproc import __version__
from streamproc.sources.http.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS

__all__ = [
    "REGISTRY",
    "EVENTS_RECEIVED",
    "EVENTS_LANDED",
    "EVENTS_QUARANTINED",
    "EVENTS_DISCARDED",
    "EVENTS_REDELIVERED",
    "BATCHES",
    "BATCH_EVENTS",
    "BATCH_BYTES",
    "BATCH_OPEN_EVENTS",
    "LOAD_DURATION",
    "COMMIT_DURATION",
    "COMMIT_RETRIES",
    "COMMIT_CONFLICTS",
    "STORAGE_WRITABLE",
    "CONSUMER_LAG",
    "ASSIGNED_PARTITIONS",
    "END_TO_END_LATENCY",
    "LAST_COMMIT_TIMESTAMP",
    "SCHEMA_EVOLUTIONS",
    "CONTRACT_INFO",
    "BUILD_INFO",
    "HTTP_REQUESTS",
    "HTTP_REQUEST_DURATION",
    "OPENLINEAGE_DELIVERIES",
    "OPENLINEAGE_OUTBOX_EVENTS",
    "QUARANTINE_REPLAYED",
    "QUARANTINE_STILL_FAILING",
]

# The `_created` series double the exposition for little use (Prometheus ignores them unless asked).
disable_created_metrics()
_registry: CollectorRegistry = REGISTRY
_CONTRACT = ("pipeline", "contract", "contract_version")

# Buckets: micro-batches range from one event (linger) to max_rows (50,000 by default); latency from sub-second
# (a live stream) to an hour (a backlog being caught up).
_EVENT_BUCKETS = (1, 10, 100, 500, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000)
_BYTE_BUCKETS = tuple(float(2**p) for p in range(10, 31, 2))  # 1 KiB .. 1 GiB
_COMMIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

EVENTS_RECEIVED = Counter(
    "streamproc_events_received", "Events taken from the source into a micro-batch.", _CONTRACT, registry=_registry
)
EVENTS_LANDED = Counter(
    "streamproc_events_landed", "Rows appended to the Delta table.", _CONTRACT, registry=_registry
)
EVENTS_QUARANTINED = Counter(
    "streamproc_events_quarantined",
    "Rows appended to the quarantine table, by disposition and reason class.",
    (*_CONTRACT, "disposition", "reason"),
    registry=_registry,
)
EVENTS_DISCARDED = Counter(
    "streamproc_events_discarded",
    "Events a discard_row or discard_value contract mode applied to (each is also quarantined).",
    (*_CONTRACT, "mode"),
    registry=_registry,
)
EVENTS_REDELIVERED = Counter(
    "streamproc_events_redelivered",
    "Events skipped because the lake already held them (re-delivery after a crash or rebalance).",
    ("pipeline",),
    registry=_registry,
)
BATCHES = Counter(
    "streamproc_batches", "Micro-batches landed, by the limit that closed them.", ("pipeline", "close_reason"),
    registry=_registry,
)
BATCH_EVENTS = Histogram(
    "streamproc_batch_events", "Events per micro-batch.", ("pipeline",), buckets=_EVENT_BUCKETS, registry=_registry
)
BATCH_BYTES = Histogram(
    "streamproc_batch_bytes", "Payload bytes per micro-batch.", ("pipeline",), buckets=_BYTE_BUCKETS,
    registry=_registry,
)
BATCH_OPEN_EVENTS = Gauge(
    "streamproc_batch_open_events",
    "Events in the open micro-batch: fetched, not yet closed for landing (read at scrape time).",
    ("pipeline",),
    registry=_registry,
)
LOAD_DURATION = Histogram(
    "streamproc_load_duration_seconds",
    "Seconds to validate and commit one micro-batch (quarantine, table and _loads commits).",
    ("pipeline",),
    buckets=_COMMIT_BUCKETS,
    registry=_registry,
)
COMMIT_DURATION = Histogram(
    "streamproc_delta_commit_duration_seconds",
    "Seconds of one Delta commit (log read, write, commit), by table role.",
    ("pipeline", "table"),
    buckets=_COMMIT_BUCKETS,
    registry=_registry,
)
COMMIT_RETRIES = Counter(
    "streamproc_delta_commit_retries",
    "Loads retried after a failed Delta commit (offsets are not committed meanwhile).",
    ("pipeline", "reason"),
    registry=_registry,
)
COMMIT_CONFLICTS = Counter(
    "streamproc_delta_commit_conflicts",
    "Delta commits lost to a concurrent writer.",
    ("pipeline",),
    registry=_registry,
)
STORAGE_WRITABLE = Gauge(
    "streamproc_storage_writable",
    "1 while the last Delta commit succeeded, 0 while a load is being retried.",
    ("pipeline",),
    registry=_registry,
)
CONSUMER_LAG = Gauge(
    "streamproc_consumer_lag_records",
    "Records in the partition not yet landed: high watermark minus the next offset to land.",
    ("pipeline", "topic", "partition"),
    registry=_registry,
)
ASSIGNED_PARTITIONS = Gauge(
    "streamproc_assigned_partitions", "Partitions this consumer-group member owns.", ("pipeline",),
    registry=_registry,
)
END_TO_END_LATENCY = Histogram(
    "streamproc_end_to_end_latency_seconds",
    "Seconds from an event's Kafka record timestamp to the Delta commit that landed it.",
    ("pipeline",),
    buckets=_LATENCY_BUCKETS,
    registry=_registry,
)
LAST_COMMIT_TIMESTAMP = Gauge(
    "streamproc_last_commit_timestamp_seconds", "Unix time of the last committed load.", ("pipeline",),
    registry=_registry,
)
SCHEMA_EVOLUTIONS = Counter(
    "streamproc_schema_evolutions",
    "Loads that landed under a contract schema different from the table's previous load (new or inferred version).",
    ("pipeline", "contract", "contract_version"),
    registry=_registry,
)
CONTRACT_INFO = Gauge(
    "streamproc_contract_info", "The contract version the pipeline's rows land under (value 1).",
    ("pipeline", "contract", "version", "hash"),
    registry=_registry,
)
BUILD_INFO = Gauge("streamproc_build_info", "The streamproc version (value 1).", ("version",), registry=_registry)
BUILD_INFO.labels(__version__).set(1)

OPENLINEAGE_DELIVERIES = Counter(
    "streamproc_openlineage_deliveries",
    "OpenLineage events sent to the transport, by pipeline, event type and outcome (success, failure).",
    ("pipeline", "event_type", "outcome"),
    registry=_registry,
)
OPENLINEAGE_OUTBOX_EVENTS = Gauge(
    "streamproc_openlineage_outbox_events",
    "OpenLineage events waiting in the outbox for the transport to accept them.",
    ("pipeline",),
    registry=_registry,
)

QUARANTINE_REPLAYED = Counter(
    "streamproc_quarantine_replayed_rows",
    "Quarantined events a quarantine replay landed into the table.",
    ("pipeline", "table"),
    registry=_registry,
)
QUARANTINE_STILL_FAILING = Counter(
    "streamproc_quarantine_still_failing_rows",
    "Quarantined events a quarantine replay re-checked and the contract refused again.",
    ("pipeline", "table"),
    registry=_registry,
)
