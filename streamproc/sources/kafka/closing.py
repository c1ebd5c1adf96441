"""Closing a confluent-kafka consumer without ever blocking on it: ``close()`` in a daemon thread of its own, awaited
from the event loop, and abandoned when the caller's deadline passes first.

librdkafka's ``close()`` waits for an offset commit in flight for ever when the broker stopped answering
(confluentinc/librdkafka#3740); with the close in its own daemon thread, a deadline around the waiting task is
honoured and the process can still exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import anyio.from_thread
import anyio.lowlevel
from confluent_kafka import Consumer

__all__ = ["close_consumer"]


async def close_consumer(
    consumer: Consumer,
    *,
    on_abandoned: Callable[[], None],
    token: anyio.lowlevel.EventLoopToken | None = None,
) -> None:
    """Close ``consumer`` in a daemon thread and wait until it is closed.

    Its rebalance callbacks (``on_revoke`` / ``on_lost`` for what it still owns) run in that thread and may reach the
    event loop through ``token`` (this event loop's, when not given): the loop is free while this waits.

    Args:
        on_abandoned: called when the wait is cancelled before the consumer closed (say why, and what it means).

    Raises:
        KafkaException: ``close()`` failed.
        the deadline's cancellation: the thread goes on alone (abandoned), and nothing waits for it.
    """
    closed, wake = threading.Event(), anyio.Event()
    failure: list[BaseException] = []
    token = token or anyio.lowlevel.current_token()

    def close() -> None:
        try:
            consumer.close()
        except BaseException as exc:  # noqa: BLE001 - raised by the waiting task, or dropped once abandoned
            failure.append(exc)
        finally:
            closed.set()
            try:
                anyio.from_thread.run_sync(wake.set, token=token)
            except RuntimeError:  # the event loop is gone: the close was abandoned
                pass

    threading.Thread(target=close, name="confluent-kafka close", daemon=True).start()
    try:
        await wake.wait()
    except anyio.get_cancelled_exc_class():
        if not closed.is_set():
            on_abandoned()
        raise
    if failure:
        raise failure[0]
