"""A Faust app that lands the ``orders`` topic in Delta with streamproc: every event is validated against the
``Order`` contract and lands in the table (with the lineage columns) or in its quarantine table, one ``_loads`` row
per load, exactly once: after a crash or a rebalance the worker resumes from the Delta log's positions.

Run a worker from the repository root (a broker at $KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092)::

    .venv/bin/python examples/faust/orders_app.py worker --loglevel=info [--without-web]

Settings come from ``pipeline.yaml`` (``${VAR:-default}`` from the environment); ``FAUST_DATADIR`` says where Faust
keeps its own state (default ``var/faust/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

import faust

from streamproc.config import load_config
from streamproc.faust import DeltaSink, app_settings

HERE = Path(__file__).resolve().parent

config = load_config(HERE / "pipeline.yaml")
app = faust.App(
    **app_settings(config),  # id = consumer group, broker, session timeout, auto offset reset
    datadir=os.environ.get("FAUST_DATADIR", str(HERE.parents[1] / "var" / "faust" / "data")),
)
# Raw bytes: the contract is the schema, and the quarantine keeps malformed events exactly as they arrived.
orders = app.topic(*config.source.topics, value_type=bytes, value_serializer="raw")
lake = DeltaSink(app, config)


@app.agent(orders)
async def land_orders(stream: faust.StreamT) -> None:
    """Validate every order against the contract and land it, or quarantine it, in Delta."""
    await lake.land(stream)


if __name__ == "__main__":
    app.main()
