"""Contestant 2c: streamproc Kafka → Delta as contestant 2, with ``source.client: confluent-kafka`` (librdkafka
fetches in its own threads; :mod:`streamproc.sources.kafka.confluent`)."""

from __future__ import annotations

from typing import Any

from bench.contestants import streamproc_kafka

__all__ = ["run"]


def run(spec: dict[str, Any]) -> dict[str, Any]:
    return streamproc_kafka.run({"client": "confluent-kafka", **spec})
