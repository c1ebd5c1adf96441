"""Upcasting and routing on the real broker.

Upcasting: events carrying an older contract version in the ``contract-version`` Kafka header (or a field) are
migrated before validation. Routing: a discriminator field sends each event type to its own contract and table,
exactly once per table.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from aiokafka import AIOKafkaProducer
from deltalake import DeltaTable

from streamproc.sources.kafka.admin import ensure_topic
from tests.fixtures.pipelines import new_topic, produce, run_async, run_cli, write_pipeline
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka

SHOP = "tests.fixtures.shop_events"


async def _produce_with_headers(bootstrap: str, topic: str, events: list[tuple[dict, str | None]]) -> None:
    await ensure_topic(bootstrap, topic, partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event, version in events:
            headers = [("contract-version", version.encode())] if version else None
            await producer.send_and_wait(topic, json.dumps(event).encode(), headers=headers)
    finally:
        await producer.stop()


def test_older_versions_are_upcast_before_validation(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = new_topic("upcast")
    events = [
        ({"payment_id": 1, "amount_cents": 250}, None),  # current, unversioned
        ({"payment_id": 2, "amount_cents": 300}, "2"),  # current, versioned
        ({"payment_id": 3, "amount": 1.25}, "1"),  # v1: migrated
        ({"payment_id": 4, "amount": -1.0}, "1"),  # v1: the migration refuses it
        ({"payment_id": 5, "amount_cents": 1}, "3"),  # from a newer version
        ({"payment_id": 6, "amount": 2.0}, None),  # v1 shape without a version: invalid as v2
    ]
    anyio.run(_produce_with_headers, kafka_bootstrap, topic, events)
    files = write_pipeline(tmp_path, kafka_bootstrap, topic=topic, contract=f"{SHOP}:PaymentV2")

    result = run_cli("run", str(files.config), "--until-caught-up")

    assert result.returncode == 0, result.stderr
    rows = sorted(files.read("table").to_pylist(), key=lambda r: r["payment_id"])
    assert [(r["payment_id"], r["amount_cents"], r["_contract_version"]) for r in rows] == [
        (1, 250, 2), (2, 300, 2), (3, 125, 2)
    ]
    quarantine = {r["_offset"]: r for r in files.read("quarantine").to_pylist()}
    assert set(quarantine) == {3, 4, 5}
    assert quarantine[3]["violations"][0]["type"] == "upcast_failed"
    assert "v1 → v2 failed: ValueError: a negative amount" in quarantine[3]["violations"][0]["message"]
    assert json.loads(quarantine[3]["raw_text"]) == {"payment_id": 4, "amount": -1.0}  # the event as sent
    assert "newer than this pipeline's v2" in quarantine[4]["violations"][0]["message"]
    assert {v["type"] for v in quarantine[5]["violations"]} == {"missing", "extra_forbidden"}


def test_a_version_field_instead_of_a_header(kafka_bootstrap: str, tmp_path: Path) -> None:
    module = tmp_path / "versioned.py"
    module.write_text(
        "from typing import Any\n"
        "from contracts import Contract, migration\n"
        "class A1(Contract, name='alerts', version=1):\n"
        "    schema_version: int = 1\n"
        "    level: str\n"
        "class A2(Contract, name='alerts', version=2):\n"
        "    schema_version: int = 2\n"
        "    severity: int\n"
        "    @migration\n"
        "    def from_v1(event: dict[str, Any]) -> dict[str, Any]:\n"
        "        return {'severity': {'low': 1, 'high': 3}[event['level']]}\n"
    )
    topic = new_topic("upcast-field")
    run_async(produce, kafka_bootstrap, topic, [
        json.dumps({"schema_version": 1, "level": "high"}).encode(),
        json.dumps({"schema_version": 2, "severity": 2}).encode(),
    ])
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract="versioned:A2", upcast={"header": None, "field": "schema_version"}
    )
    result = run_cli("run", str(files.config), "--until-caught-up")
    assert result.returncode == 0, result.stderr
    rows = files.read("table").to_pylist()
    assert sorted((r["schema_version"], r["severity"]) for r in rows) == [(2, 2), (2, 3)]


def test_a_discriminator_routes_each_event_type_to_its_table_exactly_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = new_topic("routed")
    events = []
    for i in range(60):
        kind = ("order_placed", "order_refunded", "page_viewed")[i % 3]
        event = {"type": kind, "id": i}
        if kind == "order_placed":
            event["amount"] = -1 if i == 30 else i * 1.5
        elif kind == "order_refunded":
            event["reason"] = "damaged"
        else:
            event["url"] = "/home"
        events.append(json.dumps(event).encode())
    events.append(b"not json")
    run_async(produce, kafka_bootstrap, topic, events, partitions=2)
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract=f"{SHOP}:ShopEvent", batch={"max_rows": 25},
        routing={"field": "type", "routes": {
            "order_placed": f"{SHOP}:OrderPlaced",
            "order_refunded": {"contract": f"{SHOP}:OrderRefunded", "table_uri": "lake/refunds"},
        }},
    )

    summaries = []
    for _ in range(2):  # the second run finds everything landed: nothing twice
        result = run_cli("run", str(files.config), "--until-caught-up", "--json")
        assert result.returncode == 0, result.stderr
        summaries.append(json.loads(result.stdout))
    first, summary = summaries
    assert summary["rows_landed"] == 0
    # the summary counts each route's table on its own (page_viewed's extra url is quarantined as a removed value)
    routes = first["targets"]
    assert {name: (r["rows_landed"], r["rows_quarantined"], r["events"]) for name, r in routes.items()} == {
        "orders": (20, 21, 21), "order_placed": (19, 1, 20), "refunds": (20, 0, 20)
    }
    assert sum(r["loads"] for r in routes.values()) == first["loads"]
    assert routes["refunds"]["tables"]["table"] == str(files.lake / "refunds")

    def read(name: str) -> list[dict]:
        return read_table(str(files.lake / name)).to_pylist()

    placed, refunded, default = read("order_placed"), read("refunds"), read("orders")
    assert sorted(r["id"] for r in placed) == [i for i in range(0, 60, 3) if i != 30]
    assert sorted(r["id"] for r in refunded) == list(range(1, 60, 3))
    assert sorted(r["id"] for r in default) == list(range(2, 60, 3))
    assert [r["violations"][0]["loc"] for r in read("order_placed__quarantine")] == ["amount"]
    default_quarantine = read("orders__quarantine")
    assert sorted(r["disposition"] for r in default_quarantine) == ["malformed"] + ["value_discarded"] * 20
    # one _loads row per table and load, each naming its table and contract
    loads = read("_loads")
    assert {(r["table_name"], r["contract_name"]) for r in loads} == {
        ("orders", "shop_events"), ("order_placed", "order_placed"), ("refunds", "order_refunded")
    }
    assert sum(r["rows_landed"] for r in loads if r["table_name"] == "refunds") == 20
    # each table's txn versions cover every partition: each table knows how far it has landed
    for name in ("orders", "order_placed", "refunds"):
        table = DeltaTable(str(files.lake / name))
        assert all(table.transaction_version(f"{files.group}/{name}/{topic}/{p}") is not None for p in (0, 1))
    # every route's contract is registered
    contracts = {r["name"] for r in read("_contracts")}
    assert contracts == {"shop_events", "order_placed", "order_refunded"}


@pytest.mark.parametrize("tables", ["discard_row", "freeze"])
def test_an_event_type_no_route_declares_follows_the_tables_mode(
    kafka_bootstrap: str, tmp_path: Path, tables: str
) -> None:
    topic = new_topic(f"tables-{tables.replace('_', '-')}")
    events = [
        {"type": "order_placed", "id": 1, "amount": 5.0},
        {"type": "page_viewed", "id": 2},  # no route declares it: a new table in dlt's terms
        {"id": 3},  # no discriminator at all
        {"type": "order_placed", "id": 4, "amount": 6.0},
    ]
    run_async(produce, kafka_bootstrap, topic, [json.dumps(e).encode() for e in events] + [b"[]"])
    files = write_pipeline(
        tmp_path, kafka_bootstrap, topic=topic, contract=f"{SHOP}:ShopEvent", contract_mode={"tables": tables},
        routing={"field": "type", "routes": {"order_placed": f"{SHOP}:OrderPlaced"}},
    )

    result = run_cli("run", str(files.config), "--until-caught-up")

    if tables == "freeze":
        assert result.returncode == 3, result.stderr
        assert "no route for type='page_viewed'" in result.stderr and "tables: freeze" in result.stderr
        assert f"{topic}[0]@1" in result.stderr
        assert not (files.lake / "order_placed").exists() or read_table(str(files.lake / "order_placed")).num_rows == 0
        return
    assert result.returncode == 0, result.stderr
    placed = read_table(str(files.lake / "order_placed")).to_pylist()
    assert sorted(r["id"] for r in placed) == [1, 4]
    assert files.read("table").num_rows == 0  # the default contract judged nothing: the types were refused a table
    quarantine = {r["_offset"]: r for r in files.read("quarantine").to_pylist()}
    assert set(quarantine) == {1, 2, 4}
    assert quarantine[1]["violations"][0] | {"message": ""} == {
        "loc": "type", "type": "route_unknown", "message": "", "entity": "tables", "mode": "discard_row"
    }
    assert "no route for type=None" in quarantine[2]["violations"][0]["message"]
    assert quarantine[4]["disposition"] == "malformed"
