"""librdkafka's log lines as streamproc logs them: what a broker says while it is still starting, and that librdkafka
retries by itself, is logged at INFO (a new user's first ``make demo`` showed it as a WARNING); anything else keeps its
level. Records shaped as confluent-kafka hands them to the configured ``logger`` (its level, ``FAC [client] [thread]:
text``), through the real loggers and their filters."""

from __future__ import annotations

import logging

import pytest

import streamproc.ops.replay  # noqa: F401 - configures the producer's logger
import streamproc.sources.kafka.messages  # noqa: F401 - configures the consumer's logger

_STARTING = ("GETPID [rdkafka#producer-1] [thrd:main]: Failed to acquire idempotence PID from broker "
             "127.0.0.1:42779/1: Broker: Coordinator load in progress: retrying")
_DOWN = "FAIL [rdkafka#consumer-1] [thrd:127.0.0.1:9092/1]: 127.0.0.1:9092/1: Connect to ipv4#127.0.0.1:9092 failed"


@pytest.mark.parametrize("name", ["streamproc.sources.kafka.librdkafka", "streamproc.ops.replay.librdkafka"])
def test_a_starting_brokers_retried_coordinator_warning_is_info_and_other_warnings_stay(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger(name)
    with caplog.at_level(logging.INFO, logger=name):
        logger.warning(_STARTING)
        logger.warning(_DOWN)
    levels = {record.getMessage(): record.levelname for record in caplog.records}
    assert levels == {_STARTING: "INFO", _DOWN: "WARNING"}
