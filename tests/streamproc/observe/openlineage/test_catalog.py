"""Pipelines over the real broker report to the real catalog (``streamproc catalog serve``: uvicorn on 127.0.0.1,
SQLite) through openlineage-python's HTTP transport: lineage topic → table, PII per field, loads with offsets, schema
history across two contract versions; a catalog outage loses nothing; the lake rebuilds what the catalog missed."""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.fixtures.lineage import (
    TOKEN,
    CatalogServer,
    http_transport_env,
    start_streamproc,
    streamproc,
)
from tests.fixtures.pipelines import encode, new_topic, order, produce, run_async
from tests.fixtures.waiting import wait_until
from streamproc.sinks.reader import read_table

pytestmark = pytest.mark.kafka


def _pipeline(
    tmp_path: Path,
    bootstrap: str,
    topic: str,
    *,
    table: str,
    contract: str,
    lineage: dict[str, Any],
    max_rows: int = 100,
) -> Path:
    config = {
        "name": f"{table}-pipeline",
        "contract": contract,
        "source": {
            "type": "kafka",
            "bootstrap_servers": bootstrap,
            "topics": [topic],
            "consumer_group": f"g-{table}-{uuid.uuid4().hex[:6]}",
        },
        "sink": {"table_uri": str(tmp_path / "lake" / table)},
        "batch": {"max_rows": max_rows, "max_linger_seconds": 0.5},
        "observability": {"enabled": False},
        "lineage": {"outbox_dir": str(tmp_path / "outbox"), "retry_max_seconds": 1, **lineage},
    }
    path = tmp_path / f"{table}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _loads(tmp_path: Path, table: str) -> list[dict[str, Any]]:
    rows = read_table(str(tmp_path / "lake" / "_loads")).to_pylist()
    return sorted((r for r in rows if r["table_name"] == table), key=lambda r: r["committed_at"])


def _assert_one_running_event_per_load(received: list[dict[str, Any]], lake: list[dict[str, Any]]) -> None:
    """START, then one RUNNING event per ``_loads`` row naming its load, in commit order, then COMPLETE."""
    assert [e["eventType"] for e in received] == ["START", *["RUNNING"] * len(lake), "COMPLETE"]
    assert [e["run"]["facets"]["streamproc_load"]["loadId"] for e in received[1:-1]] == [r["load_id"] for r in lake]


def _offsets(load: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"topic": o["topic"], "partition": o["partition"], "first": o["first_offset"], "last": o["last_offset"]}
        for o in load["offsets"]
    ]


def test_the_catalog_shows_lineage_pii_loads_and_schema_history(
    kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer
) -> None:
    topic = new_topic("orders")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(200)] + [b"{oops"], partitions=2)
    env = http_transport_env(catalog.url)
    v1 = _pipeline(
        tmp_path,
        kafka_bootstrap,
        topic,
        table="orders",
        contract="tests.fixtures.order_contracts:Order",
        lineage={"enabled": True},
    )
    first = streamproc("run", str(v1), "--until-caught-up", env=env)
    assert first.returncode == 0, first.stderr
    # contract v2 adds `coupon` and a PII `phone`; its pipeline lands the same topic into a table of its own
    run_async(
        produce,
        kafka_bootstrap,
        topic,
        [encode(order(i, coupon="XMAS", phone="+31 20 123 4567")) for i in range(200, 300)],
        partitions=2,
    )
    v2 = _pipeline(
        tmp_path,
        kafka_bootstrap,
        topic,
        table="orders_v2",
        contract="tests.fixtures.lineage_contracts:OrderV2",
        lineage={"enabled": True},
    )
    second = streamproc("run", str(v2), "--until-caught-up", env=env)
    assert second.returncode == 0, second.stderr

    topic_ref = f"dataset:kafka://{kafka_bootstrap}:{topic}"
    table_ref = f"dataset:file:{tmp_path / 'lake' / 'orders'}"
    # lineage: topic → job → table (and its quarantine table)
    graph = catalog.get("/api/v1/catalog/lineage", dataset="orders", direction="up", depth=1)
    job = "job:streamproc:orders-pipeline"
    assert {"origin": topic_ref, "destination": job} in graph["edges"]
    assert {"origin": job, "destination": table_ref} in graph["edges"]
    column = catalog.get("/api/v1/catalog/column-lineage", dataset="orders", field="email")
    assert json.dumps(column).count(topic) >= 1

    # PII per field: the contract's tags on the table, the topic, and the quarantine's raw payload
    pii = catalog.get("/api/v1/catalog/pii", tag="email")["items"]
    tagged = {(i["dataset"], i["field"]) for i in pii}
    assert {
        (str(tmp_path / "lake" / "orders"), "email"),
        (topic, "email"),
        (str(tmp_path / "lake" / "orders__quarantine"), "raw_payload"),
    } <= tagged
    phones = {(i["dataset"], i["field"]) for i in catalog.get("/api/v1/catalog/pii", tag="phone")["items"]}
    assert (str(tmp_path / "lake" / "orders_v2"), "phone") in phones
    assert (str(tmp_path / "lake" / "orders"), "phone") not in phones

    # loads: which run, offsets and contract version produced each Delta version, and the reverse
    lake_loads = _loads(tmp_path, "orders")
    catalog_loads = catalog.get("/api/v1/catalog/loads", dataset=table_ref)["loads"]
    assert {(c["loadId"], c["deltaVersion"]) for c in catalog_loads} == {
        (r["load_id"], r["delta_version"]) for r in lake_loads
    }
    by_id = {c["loadId"]: c for c in catalog_loads}
    for row in lake_loads:
        assert sorted(by_id[row["load_id"]]["offsets"], key=str) == sorted(_offsets(row), key=str)
        assert by_id[row["load_id"]]["contract"]["version"] == "1"
        assert by_id[row["load_id"]]["runId"] == row["run_id"]
    landed = read_table(str(tmp_path / "lake" / "orders")).to_pylist()
    some = next(r for r in landed if r["order_id"] == 7)
    reverse = catalog.get("/api/v1/catalog/loads", topic=topic, partition=some["_partition"], offset=some["_offset"])
    assert some["_load_id"] in {c["loadId"] for c in reverse["loads"]}

    # schema history of the topic: contract v2's fields added to v1's
    history = catalog.get("/api/v1/catalog/schema-history", dataset=topic_ref)["versions"]
    assert len(history) == 2
    assert {"coupon", "phone"} <= {f["name"] for f in history[1]["fields"]} - {f["name"] for f in history[0]["fields"]}
    assert "coupon" in json.dumps(history[1]["diff"])
    table_history = catalog.get("/api/v1/catalog/schema-history", dataset="orders_v2")["versions"]
    assert table_history[0]["contract"]["version"] == "2"

    # the catalog's own CLI, mounted as `streamproc catalog`, against the running catalog
    cli = streamproc("catalog", "--url", catalog.url, "--token", TOKEN, "pii", "--tag", "email", "--json", env={})
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["items"] == pii


def test_a_catalog_outage_during_a_run_loses_nothing_and_keeps_the_order(
    kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer
) -> None:
    topic = new_topic("orders")
    config = _pipeline(
        tmp_path,
        kafka_bootstrap,
        topic,
        table="orders",
        contract="tests.fixtures.order_contracts:Order",
        lineage={"enabled": True, "flush_timeout_seconds": 30},
        max_rows=25,
    )
    log = tmp_path / "run.log"
    process = start_streamproc("run", str(config), env=http_transport_env(catalog.url), log=log)
    try:
        run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(50)], partitions=2)
        wait_until(lambda: any(e["eventType"] == "RUNNING" for e in catalog.received()),
                   "a RUNNING event in the catalog", watch=[process])

        catalog.stop()
        run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(50, 200)], partitions=2)
        wait_until(lambda: sum(r["rows_landed"] for r in _loads(tmp_path, "orders")) == 200, "200 rows landed",
                   watch=[process])
        # the operator's signal that lineage is held back (the warning names the outbox the events wait in)
        wait_until(lambda: "lineage transport failed" in process.output(), "the delivery failure in the log",
                   watch=[process])
        assert process.poll() is None, "landing goes on while the catalog is down"

        catalog.start()
        lake = _loads(tmp_path, "orders")
        wait_until(lambda: sum(e["eventType"] == "RUNNING" for e in catalog.received()) >= len(lake), "the backlog",
                   watch=[process])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()

    received = [e for e in catalog.received() if e["job"]["name"] == "orders-pipeline"]
    _assert_one_running_event_per_load(received, lake)
    times = [e["eventTime"] for e in received]
    assert times == sorted(times)
    assert not list((tmp_path / "outbox").rglob("*.jsonl"))


def test_events_left_by_a_run_are_delivered_later_by_flush(
    kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer
) -> None:
    topic = new_topic("orders")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(120)], partitions=2)
    config = _pipeline(
        tmp_path,
        kafka_bootstrap,
        topic,
        table="orders",
        contract="tests.fixtures.order_contracts:Order",
        lineage={"enabled": True, "flush_timeout_seconds": 1},
        max_rows=40,
    )
    catalog.stop()
    env = http_transport_env(catalog.url)
    run = streamproc("run", str(config), "--until-caught-up", env=env)
    assert run.returncode == 0, run.stderr  # the catalog being down never fails the pipeline

    status = streamproc("lineage", "outbox", str(config), env=env)
    assert "pending" in status.stdout and "last COMPLETE" in status.stdout, status.stdout
    catalog.start()
    flushed = streamproc("lineage", "outbox", str(config), "--flush", env=env)
    assert flushed.returncode == 0, flushed.stderr

    lake = _loads(tmp_path, "orders")
    received = catalog.received()
    _assert_one_running_event_per_load(received, lake)
    assert not list((tmp_path / "outbox").rglob("*.jsonl"))


def test_backfill_rebuilds_the_lineage_from_the_lake(
    kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer
) -> None:
    topic = new_topic("orders")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(150)], partitions=2)
    config = _pipeline(
        tmp_path,
        kafka_bootstrap,
        topic,
        table="orders",
        contract="tests.fixtures.order_contracts:Order",
        lineage={"enabled": False},
        max_rows=50,
    )
    env = http_transport_env(catalog.url)
    assert streamproc("run", str(config), "--until-caught-up", env=env).returncode == 0
    assert catalog.received() == []

    backfill = streamproc("lineage", "backfill", str(config), env=env)
    assert backfill.returncode == 0, backfill.stderr
    again = streamproc("lineage", "backfill", str(config), env=env)
    assert again.returncode == 0, again.stderr

    lake = _loads(tmp_path, "orders")
    table_ref = f"dataset:file:{tmp_path / 'lake' / 'orders'}"
    catalog_loads = catalog.get("/api/v1/catalog/loads", dataset=table_ref)["loads"]
    assert sorted((c["loadId"], c["deltaVersion"], c["runId"]) for c in catalog_loads) == sorted(
        (r["load_id"], r["delta_version"], r["run_id"]) for r in lake
    )
    pii = catalog.get("/api/v1/catalog/pii", tag="email")["items"]
    assert (str(tmp_path / "lake" / "orders"), "email") in {(i["dataset"], i["field"]) for i in pii}


def test_a_table_evolving_under_its_contract_has_a_schema_history_with_the_added_column(
    kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer
) -> None:
    """``evolve``: a new key becomes a Delta column mid-run; the next RUNNING event describes the evolved table, so
    the catalog's schema history of the table shows the column added, with the inferred contract version."""
    topic = new_topic("orders")
    events = [encode(order(i)) for i in range(60)] + [encode(order(i, coupon=f"c{i}")) for i in range(60, 90)]
    run_async(produce, kafka_bootstrap, topic, events, partitions=1)
    config = _pipeline(
        tmp_path,
        kafka_bootstrap,
        topic,
        table="orders",
        contract="tests.fixtures.contract_modes:EvolvingOrder",
        lineage={"enabled": True},
        max_rows=30,
    )
    run = streamproc("run", str(config), "--until-caught-up", env=http_transport_env(catalog.url))
    assert run.returncode == 0, run.stderr

    table_ref = f"dataset:file:{tmp_path / 'lake' / 'orders'}"
    history = catalog.get("/api/v1/catalog/schema-history", dataset=table_ref)["versions"]
    assert len(history) == 2
    assert "coupon" not in {f["name"] for f in history[0]["fields"]}
    assert "coupon" in {f["name"] for f in history[1]["fields"]}
    assert "coupon" in json.dumps(history[1]["diff"])
    assert int(history[1]["contract"]["version"]) > int(history[0]["contract"]["version"])
    coupon = catalog.get("/api/v1/catalog/column-lineage", dataset=table_ref, field="coupon")
    assert topic in json.dumps(coupon)


def test_a_run_summarising_its_loads_every_n_seconds_has_every_load_in_the_catalog(
    kafka_bootstrap: str, tmp_path: Path, catalog: CatalogServer
) -> None:
    """``emit: every_n_seconds``: one RUNNING event carries several loads (``streamproc_loads``); the catalog stores
    each of them with its Delta version and offsets, as the lake's ``_loads`` has them."""
    topic = new_topic("orders")
    run_async(produce, kafka_bootstrap, topic, [encode(order(i)) for i in range(120)], partitions=2)
    config = _pipeline(
        tmp_path,
        kafka_bootstrap,
        topic,
        table="orders",
        contract="tests.fixtures.order_contracts:Order",
        lineage={"enabled": True, "emit": "every_n_seconds", "every_seconds": 3600},
        max_rows=40,
    )
    run = streamproc("run", str(config), "--until-caught-up", env=http_transport_env(catalog.url))
    assert run.returncode == 0, run.stderr

    lake = _loads(tmp_path, "orders")
    assert len(lake) >= 3
    assert [e["eventType"] for e in catalog.received()] == ["START", "RUNNING", "COMPLETE"]
    table_ref = f"dataset:file:{tmp_path / 'lake' / 'orders'}"
    by_id = {c["loadId"]: c for c in catalog.get("/api/v1/catalog/loads", dataset=table_ref)["loads"]}
    assert {(i, c["deltaVersion"]) for i, c in by_id.items()} == {(r["load_id"], r["delta_version"]) for r in lake}
    for row in lake:
        assert sorted(by_id[row["load_id"]]["offsets"], key=str) == sorted(_offsets(row), key=str)
    history = catalog.get("/api/v1/catalog/schema-history", dataset=table_ref)["versions"]
    assert history[0]["datasetVersion"] == str(lake[0]["delta_version"])
