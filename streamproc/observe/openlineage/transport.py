"""Where OpenLineage events go, decided in one place for everything that sends them (:func:`open_client`).

openlineage-python picks its transport itself (``OpenLineageClient._resolve_transport``): none at all with
``OPENLINEAGE_DISABLED=true``; else the ``transport:`` (with a ``type``) of ``openlineage.yml`` (the file
``OPENLINEAGE_CONFIG`` names, else one in the working directory, else in ``~/.openlineage/``) merged with the
``OPENLINEAGE__TRANSPORT__*`` variables; else ``OPENLINEAGE_URL`` (http). When nothing names one it falls back to its
console transport with a single WARNING: every event is then printed as a log line and counts as delivered, leaves
the outbox, and reaches no catalog. The pipeline's ``lineage:`` section says whether to emit, never where.

:func:`open_client` refuses that fallback and leaves every other decision to openlineage-python, so that each way it
can be configured (including ones a later version adds) keeps working; :func:`sent_as` words what the chosen
transport does with an event, for a summary.

A console transport asked for is a destination, not a diagnostic: it logs each event at ``INFO``, so that under
``--log-level WARNING`` a summary said ``printed`` while nothing was. :func:`open_client` lets its logger through at
``INFO`` whatever the root level (unless the application set that logger's level itself).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from openlineage.client import OpenLineageClient
from openlineage.client.transport.console import ConsoleTransport
from openlineage.client.transport.noop import NoopTransport

from streamproc.errors import ConfigError

__all__ = ["NO_TRANSPORT", "NoTransportError", "open_client", "sent_as"]

NO_TRANSPORT = (
    "no OpenLineage transport is configured, so no event would reach a catalog (openlineage-python would only print "
    "them on the console). Name one in openlineage-python's own configuration (the pipeline's `lineage:` says "
    "whether to emit, not where): OPENLINEAGE_URL (+ OPENLINEAGE_API_KEY) for its http transport; "
    "OPENLINEAGE__TRANSPORT__TYPE (http, file, kafka, console, ...) with its OPENLINEAGE__TRANSPORT__* options; or "
    "the transport: of an openlineage.yml, at OPENLINEAGE_CONFIG, in the working directory or in ~/.openlineage/. "
    "OPENLINEAGE__TRANSPORT__TYPE=console prints the events on purpose (see docs/lineage.md)"
)
"""The refusal's message: the ways to name a transport."""


class NoTransportError(ConfigError):
    """openlineage-python's configuration names no transport (it would print the events on the console)."""


def open_client() -> OpenLineageClient:
    """openlineage-python's client, as its own configuration (environment, ``openlineage.yml``) makes it.

    Returns:
        The client; its ``transport.kind`` says where events go: ``http``, ``file``, ``kafka``, ``console`` (only
        when configured so; its log lines then show at any log level), ``noop`` (``OPENLINEAGE_DISABLED=true``),
        ...

    Raises:
        NoTransportError: the configuration names no transport (:data:`NO_TRANSPORT`).
        ConfigError: the configuration cannot be used (a malformed ``openlineage.yml``, a transport without a
            required option or without its package).
    """
    logger = logging.getLogger(OpenLineageClient.__module__)
    with _held(logger) as records:
        try:
            client = OpenLineageClient()
        except Exception as exc:  # noqa: BLE001 - ValueError, RuntimeError, ImportError...: all mean "unusable"
            _release(logger, records)
            raise ConfigError(f"cannot make the OpenLineage client from its configuration: {exc}") from exc
    if _fell_back(client):
        # Its records say it "will print events to console": it will not, since this refuses it instead.
        raise NoTransportError(NO_TRANSPORT)
    _release(logger, records)
    if getattr(client.transport, "kind", None) == ConsoleTransport.kind:
        _print_events()
    return client


def sent_as(client: OpenLineageClient) -> str:
    """What handing an event to ``client`` did, for a summary: ``printed`` (the console transport), ``discarded``
    (``OPENLINEAGE_DISABLED=true``), else ``delivered``."""
    kind = getattr(client.transport, "kind", None)
    if kind == ConsoleTransport.kind:
        return "printed"
    if kind == NoopTransport.kind:
        return "discarded"
    return "delivered"


def _print_events() -> None:
    """Let the console transport's events (log records at ``INFO``) through to the handlers whatever the root
    logger's level, unless its logger's level was set explicitly."""
    console = logging.getLogger(ConsoleTransport.__module__)
    if console.level == logging.NOTSET and not console.isEnabledFor(logging.INFO):
        console.setLevel(logging.INFO)


def _fell_back(client: OpenLineageClient) -> bool:
    """Whether the client's console transport is openlineage-python's fallback rather than a configured one: a
    configured console transport is a ``transport:`` with ``type: console`` (file or variables); the fallback is
    what is left when the configuration has no transport type (and no ``OPENLINEAGE_URL``, which makes http)."""
    if getattr(client.transport, "kind", None) != ConsoleTransport.kind:
        return False
    transport = client.config.transport
    return not (isinstance(transport, dict) and transport.get("type"))


@contextmanager
def _held(logger: logging.Logger) -> Iterator[list[logging.LogRecord]]:
    """Hold back what ``logger`` logs inside the block (for :func:`_release`, or to drop)."""
    records: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        records.append(record)
        return False

    logger.addFilter(hold)
    try:
        yield records
    finally:
        logger.removeFilter(hold)


def _release(logger: logging.Logger, records: list[logging.LogRecord]) -> None:
    for record in records:
        logger.handle(record)
