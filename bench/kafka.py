"""The benchmark's Kafka side: a broker (the given one, or a LocalBroker of its own) and one topic per dataset.

Topics are filled before any contestant runs, with ``streamproc replay`` (aiokafka, ``acks=all``), so that the Kafka
contestants measure consume → land only.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio

from bench.generate import DataFile
from deploy.kafka import broker as broker_module  # deploy/ is a namespace package
from streamproc.ops.replay import replay_file
from streamproc.sources.kafka.admin import ensure_topic

__all__ = ["broker", "fill_topic", "KAFKA_VERSION", "TOPIC_PARTITIONS"]

TOPIC_PARTITIONS = 3
"""Partitions of each benchmark topic (``streamproc replay``'s default)."""

KAFKA_VERSION: str = broker_module.KAFKA_VERSION


@contextlib.contextmanager
def broker(bootstrap_servers: str | None, data_dir: Path) -> Iterator[str]:
    """``bootstrap_servers`` if given, else a LocalBroker started in ``data_dir`` for the block (then stopped and
    its data deleted)."""
    if bootstrap_servers:
        yield bootstrap_servers
        return
    with broker_module.LocalBroker(data_dir) as local:  # holds its ports from choosing them until stopped
        yield local.bootstrap_servers


def fill_topic(bootstrap_servers: str, data: DataFile) -> dict[str, str]:
    """Create a new topic and produce every event of ``data`` into it; returns the contestants' ``kafka`` spec."""
    topic = f"bench-{data.name}-{uuid.uuid4().hex[:8]}"

    async def fill() -> None:
        await ensure_topic(bootstrap_servers, topic, partitions=TOPIC_PARTITIONS)
        await replay_file(data.path, bootstrap_servers=bootstrap_servers, topic=topic)

    anyio.run(fill)
    return {"bootstrap_servers": bootstrap_servers, "topic": topic}
