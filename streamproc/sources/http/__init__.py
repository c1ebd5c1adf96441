"""The HTTP source: Segment's Tracking API and JSON / NDJSON ingestion, durable before acknowledging.

``source: {type: http}`` in a pipeline config (see :class:`streamproc.config.HttpSourceConfig`); ``streamproc run``
serves it with :class:`streamproc.runtime.http.HttpIngestion` (the endpoint and one pipeline per target in one
process, run by :class:`streamproc.runtime.runner.Runner`).

========================= ===============================================================================
module                    concept
========================= ===============================================================================
:mod:`.app`               the endpoint (Starlette): routes, write keys, body limits and gzip, JSON errors
:mod:`.segment`           Segment messages → events (type, messageId, receivedAt, skew-corrected timestamp)
:mod:`.spec`              Segment's Spec as contract mixins, and the catch-all ``SegmentEvent`` contract
:mod:`.targets`           routes → targets (contract, table, log stream or topic, the pipeline that lands it)
:mod:`.front`             accepting a request: readiness, backpressure, ``freeze`` validation, durable write
:mod:`.wal`               the write-ahead log: segment files of numbered, checksummed records
:mod:`.stream`            one stream of the log as the pipeline's source (``WalSource``)
:mod:`.gateway`           gateway mode: produce to Kafka with ``acks=all`` instead
:mod:`.metrics`           the endpoint's Prometheus metrics
:mod:`.errors`            the endpoint's errors, one HTTP status each
========================= ===============================================================================

The guarantee: a ``200`` means every event of the request is fsynced in the write-ahead log (or acknowledged by all
in-sync Kafka replicas in gateway mode). Events are landed from the log into Delta exactly once per offset, as Kafka
records are; a crash after the ``200`` only delays them until the next run.
"""
