"""Delivering the outbox: a background thread sends each log's events through an ``OpenLineageClient``, oldest
first, retrying with backoff while the transport fails, so events arrive in order and none is lost.

The client is openlineage-python's own, configured the usual way (``openlineage.yml``, ``OPENLINEAGE_URL``,
``OPENLINEAGE__TRANSPORT__*``): http, file, console, kafka... An event the receiver refuses as invalid (HTTP 400,
409, 413, 415, 422) is not retried: it moves to the outbox's ``rejected.jsonl`` and delivery goes on. Every other
failure (connection refused, timeouts, 5xx, 401/403/404 from a misconfigured endpoint or token) is retried until the
transport takes the event or :meth:`Deliverer.close`'s deadline passes; what is left stays in the outbox for the next
run or ``streamproc lineage outbox --flush``.

Lifecycle: construct → :meth:`Deliverer.add` logs → :meth:`Deliverer.start` → :meth:`Deliverer.wake` after appends →
:meth:`Deliverer.close` (once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from streamproc.observe import metrics
from streamproc.observe.openlineage.outbox import Outbox, OutboxError, Pending, RunLog

__all__ = ["Deliverer", "event_from_dict", "is_retryable"]

logger = logging.getLogger(__name__)

_REFUSED = frozenset({400, 409, 413, 415, 422})


def is_retryable(error: BaseException) -> bool:
    """Whether a transport error may pass (anything but an HTTP answer saying the event itself is invalid)."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    return status not in _REFUSED


def event_from_dict(payload: dict[str, Any]) -> RunEvent:
    """A RunEvent for ``OpenLineageClient.emit`` from its JSON form; facets stay plain dicts (serialized as-is)."""

    def datasets(kind: type[InputDataset] | type[OutputDataset], items: list[dict[str, Any]], extra: str) -> list[Any]:
        return [
            kind(namespace=d["namespace"], name=d["name"], facets=d.get("facets") or {}, **{extra: d.get(extra) or {}})
            for d in items
        ]

    return RunEvent(
        eventType=RunState(payload["eventType"]) if payload.get("eventType") else None,
        eventTime=payload["eventTime"],
        producer=payload["producer"],
        run=Run(runId=payload["run"]["runId"], facets=payload["run"].get("facets") or {}),
        job=Job(
            namespace=payload["job"]["namespace"],
            name=payload["job"]["name"],
            facets=payload["job"].get("facets") or {},
        ),
        inputs=datasets(InputDataset, payload.get("inputs") or [], "inputFacets"),
        outputs=datasets(OutputDataset, payload.get("outputs") or [], "outputFacets"),
    )


class Deliverer:
    """Sends the events of its logs, one log after the other, each in append order.

    Args:
        client: the OpenLineage client (its transport does the sending).
        outbox: where refused events are kept.
        pipeline: the pipeline whose outbox it is (the ``pipeline`` label of the outbox gauge and delivery counter).
        retry_max_seconds: the longest wait between attempts.
        on_delivered: called with each delivered event (metrics, tests); must not raise.
    """

    def __init__(
        self,
        client: OpenLineageClient,
        outbox: Outbox,
        *,
        pipeline: str,
        retry_max_seconds: float = 60.0,
        on_delivered: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.client = client
        self.outbox = outbox
        self.pipeline = pipeline
        self.retry_max_seconds = retry_max_seconds
        self.on_delivered = on_delivered
        self._logs: deque[RunLog] = deque()
        self._wakeup = threading.Event()
        self._interrupt = threading.Event()
        self._deadline: float | None = None
        self._failing_since: float | None = None
        self._event_type = "OTHER"
        self._thread = threading.Thread(target=self._run, name="lineage-delivery", daemon=True)

    def add(self, log: RunLog) -> None:
        """Deliver ``log`` after the logs added before it."""
        self._logs.append(log)
        self._wakeup.set()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """New events were appended."""
        self._count_waiting()
        self._wakeup.set()

    def _count_waiting(self) -> None:
        metrics.OPENLINEAGE_OUTBOX_EVENTS.labels(self.pipeline).set(sum(log.pending for log in list(self._logs)))

    def close(self, timeout: float) -> int:
        """Deliver what is pending for at most ``timeout`` seconds, then stop; logs left are closed (kept on disk).

        Returns:
            The number of events still pending.
        """
        self._deadline = time.monotonic() + timeout
        self._interrupt.set()
        self._wakeup.set()
        if self._thread.is_alive():
            self._thread.join(timeout + 1)
        left = sum(log.pending for log in self._logs)
        if self._thread.is_alive():
            # Stuck in the transport past the deadline: leave the logs to it; the process's exit releases them.
            logger.warning(
                "lineage transport still busy after %.0fs; %d event(s) stay in %s", timeout, left, self.outbox.directory
            )
            return left
        for log in self._logs:
            log.close()
        if left:
            logger.warning(
                "%d lineage event(s) not delivered yet; they wait in %s and are sent by the next run "
                "(or `streamproc lineage outbox --flush`)",
                left,
                self.outbox.directory,
            )
        return left

    def _run(self) -> None:
        try:
            while self._logs:
                log = self._logs[0]
                pending = log.next_pending()
                if pending is None:
                    if log.sealed:
                        log.close()
                        self._logs.popleft()
                        continue
                    if self._deadline is not None:
                        return
                    self._wakeup.wait()
                    self._wakeup.clear()
                    continue
                if not self._deliver(log, pending):
                    return
        except OutboxError:
            logger.exception("lineage delivery stopped: the outbox failed (events stay on disk)")

    def _deliver(self, log: RunLog, pending: Pending) -> bool:
        """Send one event; ``False`` when the deadline passed with the transport still failing."""
        retrying = Retrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_random_exponential(multiplier=0.5, max=self.retry_max_seconds),
            stop=self._past_deadline,
            sleep=self._sleep,
            before_sleep=self._log_failure,
            reraise=True,
        )
        event_type = self._event_type = str(pending.event.get("eventType") or "OTHER")
        try:
            retrying(self.client.emit, event_from_dict(pending.event))
        except Exception as exc:
            metrics.OPENLINEAGE_DELIVERIES.labels(self.pipeline, event_type, "failure").inc()
            if is_retryable(exc):
                return False
            reason = f"{type(exc).__name__}: {exc}"
            logger.error(
                "lineage event refused by the receiver, kept in %s/rejected.jsonl: %s", self.outbox.directory, reason
            )
            self.outbox.reject(pending.event, reason)
        else:
            metrics.OPENLINEAGE_DELIVERIES.labels(self.pipeline, event_type, "success").inc()
            if self._failing_since is not None:
                logger.info(
                    "lineage transport is back after %.0fs; sending the waiting events in order",
                    time.monotonic() - self._failing_since,
                )
                self._failing_since = None
            if self.on_delivered is not None:
                self.on_delivered(pending.event)
        log.ack(pending.end)
        self._count_waiting()
        return True

    def _past_deadline(self, _state: RetryCallState) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _sleep(self, seconds: float) -> None:
        if self._deadline is not None:
            seconds = max(0.0, min(seconds, self._deadline - time.monotonic()))
        if self._interrupt.wait(seconds):
            self._interrupt.clear()  # close() wants one prompt attempt, not a busy loop

    def _log_failure(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        metrics.OPENLINEAGE_DELIVERIES.labels(self.pipeline, self._event_type, "failure").inc()
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            logger.warning(
                "lineage transport failed (%s); events wait in the outbox %s and are re-sent in order",
                error,
                self.outbox.directory,
            )
        else:
            logger.debug("lineage transport still failing (attempt %d): %s", state.attempt_number, error)
