"""aiokafka's errors translated once, at the boundary, by one mapping (as httpx maps httpcore's errors).

=====================================  ============================  ============================================
aiokafka                               streamproc                    the caller
=====================================  ============================  ============================================
``KafkaConnectionError``               ``SourceUnavailableError``    retry later: no broker answered
``KafkaTimeoutError``                  ``SourceUnavailableError``    retry later: the broker did not answer in time
``NodeNotReadyError``                  ``SourceUnavailableError``    retry later
any other ``KafkaError``               ``SourceError``               stop: the request itself failed
=====================================  ============================  ============================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, NodeNotReadyError

from streamproc.errors import SourceError, SourceUnavailableError

__all__ = ["KAFKA_ERRORS", "map_kafka_errors"]

KAFKA_ERRORS: tuple[tuple[type[Exception], type[SourceError]], ...] = (
    (KafkaConnectionError, SourceUnavailableError),
    (KafkaTimeoutError, SourceUnavailableError),
    (NodeNotReadyError, SourceUnavailableError),
    (KafkaError, SourceError),
)
"""aiokafka error type → ours, most specific first."""


@contextmanager
def map_kafka_errors(doing: str) -> Iterator[None]:
    """Translate aiokafka's errors raised in the block: ``raise <ours>(f"{doing}: {error}") from error``.

    Args:
        doing: what the block does, for the message, e.g. ``"cannot reach the Kafka broker at host:9092"``.

    Raises:
        SourceUnavailableError, SourceError: per :data:`KAFKA_ERRORS`.
    """
    try:
        yield
    except KafkaError as exc:
        for kafka_type, ours in KAFKA_ERRORS:
            if isinstance(exc, kafka_type):
                raise ours(f"{doing}: {exc or type(exc).__name__}") from exc
        raise  # pragma: no cover - KafkaError is the last entry
