"""The Faust sink: a Faust agent lands its stream into Delta by running the very pipeline of ``streamproc run``.

```
 app.topic(value_serializer="raw") ─► agent ─► DeltaSink.land(stream)
                                                 │ stream.noack()
                                                 ▼
                                       FaustSource ─► Pipeline: Batcher ─► prepare ─► commit ─┬► <table> (+ lineage)
                                         ▲                                                     ├► <table>__quarantine
                                         └── commit: acknowledge the landed events             └► _loads
                                             (Faust commits their offsets to Kafka)
```

Everything after the source is ``streamproc run``'s own code: contract validation and its modes, routing, the
quarantine table, the lineage columns, the ``_loads`` rows, the ``txn`` actions per partition, storage retries,
table maintenance, and the :class:`~streamproc.observe.observer.PipelineObserver` hooks (so ``lineage:`` sends the same
OpenLineage events). What Faust changes is in the source (:mod:`streamproc.faust.source`): acknowledgements instead
of offset commits, and positions from the Delta log committed to the group before Faust seeks.

Values: the topic is declared with raw bytes (``value_type=bytes, value_serializer="raw"``) and the pydantic contract
is the schema. Faust ``Record`` models are not used for landing: a Faust codec decodes before the agent sees an
event, so a malformed event could neither be validated with every violation nor quarantined as it arrived.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import faust
from faust.types import StreamT

from streamproc.config import PipelineConfig, load_config
from streamproc.config.resolve import resolve_contracts
from streamproc.errors import ConfigError, StreamprocError, first_error
from streamproc.faust.settings import check_channel, kafka_source_of
from streamproc.faust.source import FaustSource
from streamproc.observe.openlineage import lineage_observers
from streamproc.observe.observer import PipelineObserver
from streamproc.runtime.pipeline import Pipeline
from streamproc.observe.summary import RunSummary

__all__ = ["DeltaSink"]

logger = logging.getLogger(__name__)


class DeltaSink:
    """Lands the stream of a Faust agent into a pipeline's Delta table, quarantine table and ``_loads``.

    Construct it when the Faust app is defined, before the worker starts (it connects to the app's rebalance and
    shutdown signals); then one agent hands it its stream::

        config = load_config("pipeline.yaml")
        app = faust.App(**app_settings(config))
        orders = app.topic("orders", value_type=bytes, value_serializer="raw")
        lake = DeltaSink(app, config)

        @app.agent(orders)
        async def land_orders(stream):
            await lake.land(stream)

    Lifecycle: construct → :meth:`land` once, from an agent of concurrency 1 → not reusable. The worker's stop is
    the pipeline's graceful stop: before Faust stops its agents (``on_before_shutdown``) the open batch is landed and
    acknowledged within ``shutdown_grace_seconds``. A fatal error (a ``freeze`` violation, a table that does not
    match the contract) crashes the app, so the worker exits (status 1) instead of restarting the agent.

    Args:
        app: the Faust app; its id must be the config's ``source.consumer_group`` (:func:`~streamproc.faust.
            app_settings` sets it).
        config: the pipeline config, as ``streamproc run`` reads it; its ``source`` must be Kafka and name the topics
            the agent reads (the ``_source`` lineage column and the OpenLineage inputs come from it).
        observers: told of the run's start, rebalances, loads, retries and stop, after the OpenLineage observer
            ``config.lineage`` asks for.

    Raises:
        ConfigError: the config's source is not Kafka, or it enables ``lineage:`` while no OpenLineage transport is
            configured (:mod:`streamproc.observe.openlineage.transport`).
        ContractError: the contract cannot be imported.
    """

    def __init__(self, app: faust.App, config: PipelineConfig, *, observers: Sequence[PipelineObserver] = ()) -> None:
        self.app = app
        self.config = config
        self.source = FaustSource(app, kafka_source_of(config))
        self.observers = (*lineage_observers(config), *observers)
        self.pipeline: Pipeline | None = None
        self._finished = asyncio.Event()
        self.contracts = resolve_contracts(config)  # a wrong reference fails when the app is defined, not later
        app.on_before_shutdown.connect(self._faust_before_shutdown)

    @classmethod
    def from_config(cls, app: faust.App, path: str | Path, *, observers: Sequence[PipelineObserver] = ()) -> DeltaSink:
        """A sink for the pipeline config file at ``path`` (YAML or TOML, as ``streamproc run`` reads it).

        Raises:
            ConfigError: the file is unreadable or invalid, or its source is not Kafka.
        """
        return cls(app, load_config(path), observers=observers)

    async def land(self, stream: StreamT) -> RunSummary:
        """Run the pipeline on ``stream`` until the worker stops; call it from the agent, once.

        Returns:
            The run's :class:`~streamproc.observe.summary.RunSummary` (``stopped_by``: ``signal`` after the worker's stop).

        Raises:
            ConfigError: the stream is not a raw-bytes topic of ``config.source.topics``, or the app's id is not the
                config's consumer group.
            ContractStopError: an event violated a ``freeze`` entity; nothing from it on was acknowledged.
            SchemaMismatchError: an existing table does not match the contract.
            StreamprocError: the sink was used before.
        """
        if self.pipeline is not None:
            raise StreamprocError("a DeltaSink lands one stream, once: give each agent its own sink (concurrency 1)")
        pipeline = Pipeline(self.config, observers=self.observers, source=self.source, contracts=self.contracts)
        self.pipeline = pipeline
        try:
            group = self.app.conf.id
            if group != self.config.source.consumer_group:
                raise ConfigError(
                    f"the Faust app's id {group!r} is its consumer group; the pipeline config says "
                    f"{self.config.source.consumer_group!r} (use faust.App(**app_settings(config)))"
                )
            check_channel(self.app, stream.channel, self.config.source.topics)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pump, stream.noack(), pipeline)
                summary = await pipeline.run()
                tg.cancel_scope.cancel()
            return summary
        except BaseExceptionGroup as group:
            error = first_error(group)
            await self._crash(error)
            raise error from None
        except Exception as exc:
            await self._crash(exc)
            raise
        finally:
            self._finished.set()

    async def _pump(self, stream: StreamT, pipeline: Pipeline) -> None:
        await self.source.pump(stream)
        pipeline.request_stop()  # the stream ended: Faust stops the agent

    async def _crash(self, error: BaseException) -> None:
        if isinstance(error, Exception):
            logger.error("the Faust sink of pipeline %s stopped: %s", self.config.name, error)
            await self.app.crash(error)

    async def _faust_before_shutdown(self, sender: faust.App, **_: Any) -> None:
        """The worker stops: land and acknowledge the open batch before Faust cancels the agents."""
        pipeline = self.pipeline
        if pipeline is None:
            return
        pipeline.request_stop()
        # the pipeline gives up the open batch after shutdown_grace_seconds; its observers then flush (lineage)
        with anyio.move_on_after(self.config.shutdown_grace_seconds + self.config.lineage.flush_timeout_seconds + 5):
            await self._finished.wait()
