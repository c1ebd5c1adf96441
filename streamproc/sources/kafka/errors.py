"""The Kafka clients' errors translated once, at the boundary, by one mapping (as httpx maps httpcore's errors).

==========================================================  ============================  ==============================
aiokafka / confluent-kafka (librdkafka)                     streamproc                    the caller
==========================================================  ============================  ==============================
``KafkaConnectionError`` / ``_TRANSPORT``,                  ``SourceUnavailableError``    retry later: no broker answered
``_ALL_BROKERS_DOWN``, ``_RESOLVE``
``KafkaTimeoutError`` / ``_TIMED_OUT``,                     ``SourceUnavailableError``    retry later: no answer in time
``REQUEST_TIMED_OUT``
``NodeNotReadyError`` / any other *retriable* librdkafka    ``SourceUnavailableError``    retry later
error (``KafkaError.retriable()``)
any other ``KafkaError`` / ``KafkaException``               ``SourceError``               stop: the request itself failed
==========================================================  ============================  ==============================

Each client's errors are recognised only once that client is imported (``sys.modules``): a run imports just the one
its config names. librdkafka's log lines about a coordinator that is still loading (retried by librdkafka itself) are
logged at INFO, not WARNING (:class:`StartingBrokerAsInfo`); both clients' own lines, which repeat many times a second
while a broker is down, pass once per :data:`REPEAT_SECONDS` (:class:`OncePer`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from streamproc.errors import SourceError, SourceUnavailableError

__all__ = [
    "AIOKAFKA_ERRORS", "LIBRDKAFKA_UNAVAILABLE", "REPEAT_SECONDS", "OncePer", "StartingBrokerAsInfo",
    "describe_kafka_error", "map_kafka_errors", "translate_kafka_error",
]

AIOKAFKA_ERRORS: tuple[tuple[str, type[SourceError]], ...] = (
    ("KafkaConnectionError", SourceUnavailableError),
    ("KafkaTimeoutError", SourceUnavailableError),
    ("NodeNotReadyError", SourceUnavailableError),
    ("KafkaError", SourceError),
)
"""aiokafka error type (in ``aiokafka.errors``) → ours, most specific first."""

LIBRDKAFKA_UNAVAILABLE: frozenset[str] = frozenset(
    {"_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE", "_TIMED_OUT", "REQUEST_TIMED_OUT", "_WAIT_COORD",
     "COORDINATOR_NOT_AVAILABLE", "NOT_COORDINATOR", "NETWORK_EXCEPTION", "LEADER_NOT_AVAILABLE"}
)
"""librdkafka error names (``confluent_kafka.KafkaError.name()``) that mean "no broker answered, retry later", besides
every error librdkafka itself calls retriable."""


def translate_kafka_error(error: BaseException | Any) -> type[SourceError] | None:
    """Our error type for a Kafka client's exception, or for a librdkafka ``KafkaError`` value (what a
    confluent-kafka ``Message.error()`` or error callback carries); ``None`` when it is no Kafka client's error."""
    aiokafka = sys.modules.get("aiokafka.errors")
    if aiokafka is not None and isinstance(error, aiokafka.KafkaError):
        return next(ours for name, ours in AIOKAFKA_ERRORS if isinstance(error, getattr(aiokafka, name)))
    confluent = sys.modules.get("confluent_kafka")
    if confluent is not None:
        if isinstance(error, confluent.KafkaException) and error.args and isinstance(error.args[0], confluent.KafkaError):
            error = error.args[0]
        elif isinstance(error, confluent.KafkaException):
            return SourceError
        if isinstance(error, confluent.KafkaError):
            if error.fatal():
                return SourceError
            unavailable = error.retriable() or error.name() in LIBRDKAFKA_UNAVAILABLE
            return SourceUnavailableError if unavailable else SourceError
    return None


@contextmanager
def map_kafka_errors(doing: str) -> Iterator[None]:
    """Translate a Kafka client's errors raised in the block: ``raise <ours>(f"{doing}: {error}") from error``.

    Args:
        doing: what the block does, for the message, e.g. ``"cannot reach the Kafka broker at host:9092"``.

    Raises:
        SourceUnavailableError, SourceError: per the module's table.
    """
    try:
        yield
    except Exception as exc:
        ours = translate_kafka_error(exc)
        if ours is None:
            raise
        raise ours(f"{doing}: {describe_kafka_error(exc)}") from exc


def describe_kafka_error(error: BaseException | Any) -> str:
    """The error as one line: librdkafka's name and reason (``_TRANSPORT: Connection refused``), aiokafka's text."""
    confluent = sys.modules.get("confluent_kafka")
    if confluent is not None:
        if isinstance(error, confluent.KafkaException) and error.args and isinstance(error.args[0], confluent.KafkaError):
            error = error.args[0]
        if isinstance(error, confluent.KafkaError):
            return f"{error.name()}: {error.str()}"
    return str(error) or type(error).__name__


class StartingBrokerAsInfo(logging.Filter):
    """Logs at INFO the warnings librdkafka gives while a broker is still starting and that it retries by itself
    (Kafka's ``COORDINATOR_LOAD_IN_PROGRESS`` and ``COORDINATOR_NOT_AVAILABLE``: the group or transaction coordinator
    is loading its log, seconds after the broker started): a new user's first ``make demo`` printed "WARNING ...
    Failed to acquire idempotence PID ... Coordinator load in progress: retrying" for a step that then succeeded."""

    TRANSIENT = ("Coordinator load in progress", "Coordinator not available")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and any(t in record.getMessage() for t in self.TRANSIENT):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


REPEAT_SECONDS = 30.0
"""How often one distinct line of a Kafka client passes :class:`OncePer`: while the broker is down, librdkafka retries
it every 0.1-10 s and aiokafka every 0.1 s, and each attempt logs the same lines again."""


class OncePer(logging.Filter):
    """Lets each distinct message through once per ``seconds`` (a broker outage must not flood the log).

    aiokafka logs one failed connection twice every 0.1 s (``Unable connect to node with id 1``, once for the fetch
    and once for the metadata refresh that the failure forces, from ``AIOKafkaClient._get_conn``), with ``Failed
    fetch messages`` and ``Unable to update metadata`` beside them: about 40 ERROR lines a second, all identical.
    A filter applies to the records of the logger it is added to, not to its children's: add it to each logger.

    Args:
        seconds: the shortest interval between two records with the same message.
    """

    def __init__(self, seconds: float = REPEAT_SECONDS) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message, now = record.getMessage(), record.created
        if now - self._last.get(message, float("-inf")) < self.seconds:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[message] = now
        return True
