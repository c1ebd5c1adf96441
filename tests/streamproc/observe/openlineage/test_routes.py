"""Routing and lineage against the real catalog (``streamproc catalog serve``): every route's table is its own
OpenLineage output dataset, with its own schema, tags, loads and column lineage; ``lineage backfill`` rebuilds every
route's loads. The routed contracts sit beside the pipeline config, as a user writes them (issue 13, items 2 and 3)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamproc.sinks.reader import read_table
from tests.fixtures.lineage import CatalogServer, http_transport_env, streamproc
from tests.fixtures.pipelines import new_topic, produce, run_async

pytestmark = pytest.mark.kafka

ROUTED_CONTRACTS = '''
from typing import Annotated, Literal

from pydantic import Field

from contracts import Contract, Tag


class ShopEvent(Contract, name="shop_events", mode={"columns": "discard_value"}):
    """Any shop event no route claims."""

    type: str
    id: int


class OrderPlaced(Contract, name="order_placed", owner="checkout"):
    """An order was placed."""

    type: Literal["order_placed"]
    id: int
    amount: float = Field(ge=0)
    email: Annotated[str, Tag("email")]


class OrderRefunded(Contract, name="order_refunded"):
    """An order was refunded."""

    type: Literal["order_refunded"]
    id: int
    reason: str
    phone: Annotated[str | None, Tag("phone")] = None
'''

TABLES = ("shop", "order_placed", "refunds")


def _event(i: int) -> bytes:
    kind = ("order_placed", "order_refunded", "page_viewed")[i % 3]
    event: dict[str, Any] = {"type": kind, "id": i}
    if kind == "order_placed":
        event |= {"amount": -1 if i % 30 == 0 else i * 1.5, "email": f"user{i}@example.com"}
    elif kind == "order_refunded":
        event |= {"reason": "damaged", "phone": "+31 20 123 4567"}
    return json.dumps(event).encode()


def _routed_pipeline(tmp_path: Path, bootstrap: str, topic: str, *, lineage: dict[str, Any]) -> Path:
    (tmp_path / "routed_shop.py").write_text(ROUTED_CONTRACTS)  # beside the config, not on PYTHONPATH
    config = {
        "name": "shop-pipeline",
        "contract": "routed_shop:ShopEvent",
        "source": {
            "type": "kafka",
            "bootstrap_servers": bootstrap,
            "topics": [topic],
            "consumer_group": f"g-shop-{uuid.uuid4().hex[:6]}",
        },
        "sink": {"table_uri": "lake/shop"},
        "routing": {
            "field": "type",
            "routes": {
                "order_placed": "routed_shop:OrderPlaced",
                "order_refunded": {"contract": "routed_shop:OrderRefunded", "table_uri": "lake/refunds"},
            },
        },
        "batch": {"max_rows": 25, "max_linger_seconds": 0.5},
        "observability": {"enabled": False},
        "lineage": {"outbox_dir": str(tmp_path / "outbox"), "retry_max_seconds": 1, **lineage},
    }
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _lake_loads(tmp_path: Path, table: str) -> set[tuple[str, int]]:
    rows = read_table(str(tmp_path / "lake" / "_loads")).to_pylist()
    return {(r["load_id"], r["delta_version"]) for r in rows if r["table_name"] == table}


def _catalog_loads(catalog: CatalogServer, tmp_path: Path, table: str) -> set[tuple[str, int]]:
    loads = catalog.get("/api/v1/catalog/loads", dataset=f"dataset:file:{tmp_path / 'lake' / table}")["loads"]
    return {(c["loadId"], c["deltaVersion"]) for c in loads}


def test_every_routes_table_is_its_own_dataset_with_its_own_loads_schema_and_tags(
    kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer
) -> None:
    topic = new_topic("shop")
    run_async(produce, kafka_bootstrap, topic, [_event(i) for i in range(90)], partitions=2)
    config = _routed_pipeline(tmp_path, kafka_bootstrap, topic, lineage={"enabled": True})

    result = streamproc("run", str(config), "--until-caught-up", env=http_transport_env(catalog.url))

    assert result.returncode == 0, result.stderr
    job = "job:streamproc:shop-pipeline"
    for table in TABLES:
        table_ref = f"dataset:file:{tmp_path / 'lake' / table}"
        lake = _lake_loads(tmp_path, table)
        assert lake, table
        assert _catalog_loads(catalog, tmp_path, table) == lake, table
        graph = catalog.get("/api/v1/catalog/lineage", dataset=table_ref, direction="up", depth=1)
        assert {"origin": job, "destination": table_ref} in graph["edges"], table
    # each table's schema and tags are its own contract's
    refunds = catalog.get("/api/v1/catalog/schema-history", dataset=f"dataset:file:{tmp_path / 'lake' / 'refunds'}")
    assert {"reason", "phone"} <= {f["name"] for f in refunds["versions"][-1]["fields"]}
    emails = {(i["dataset"], i["field"]) for i in catalog.get("/api/v1/catalog/pii", tag="email")["items"]}
    phones = {(i["dataset"], i["field"]) for i in catalog.get("/api/v1/catalog/pii", tag="phone")["items"]}
    assert (str(tmp_path / "lake" / "order_placed"), "email") in emails
    assert (str(tmp_path / "lake" / "refunds"), "phone") in phones
    assert (str(tmp_path / "lake" / "shop"), "email") not in emails
    column = catalog.get(
        "/api/v1/catalog/column-lineage", dataset=f"dataset:file:{tmp_path / 'lake' / 'order_placed'}", field="email"
    )
    assert topic in json.dumps(column)


def test_backfill_rebuilds_every_routes_loads(kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer) -> None:
    topic = new_topic("shop")
    run_async(produce, kafka_bootstrap, topic, [_event(i) for i in range(60)], partitions=2)
    config = _routed_pipeline(tmp_path, kafka_bootstrap, topic, lineage={"enabled": False})
    env = http_transport_env(catalog.url)
    assert streamproc("run", str(config), "--until-caught-up", env=env).returncode == 0
    assert catalog.received() == []

    backfill = streamproc("lineage", "backfill", str(config), env=env)

    assert backfill.returncode == 0, backfill.stderr
    for table in TABLES:
        lake = _lake_loads(tmp_path, table)
        assert lake, table
        assert _catalog_loads(catalog, tmp_path, table) == lake, table
