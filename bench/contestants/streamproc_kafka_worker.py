"""Contestant 2b: streamproc Kafka → Delta as contestant 2, with ``validation.workers: 1``: each micro-batch is
validated in a worker process on the second core while the event loop consumes (:mod:`streamproc.validation.pool`)."""

from __future__ import annotations

from typing import Any

from bench.contestants import streamproc_kafka

__all__ = ["run"]


def run(spec: dict[str, Any]) -> dict[str, Any]:
    return streamproc_kafka.run({**spec, "validation_workers": 1})
