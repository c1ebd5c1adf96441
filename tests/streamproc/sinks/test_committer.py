"""The preparer and the committer of a routed pipeline, called the way the pipeline calls them (prepare a closed
batch, touching no table; commit it; commit the same prepared load again after a failure), against real Delta tables
on disk: one committer over every route's tables, exactly once per table."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from contracts.modes import resolve_modes
from streamproc.batching.batcher import MicroBatch
from streamproc.config import SinkConfig
from streamproc.config.resolve import PipelineContracts, Route
from streamproc.errors import StorageUnavailableError
from streamproc.records import SourceRecord, TopicPartition
from streamproc.runtime.build import Landing, landing_parts
from streamproc.sinks.reader import read_table
from tests.fixtures.exactly_once import unavailable
from tests.fixtures.shop_events import OrderPlaced, OrderRefunded, ShopEvent

TOPIC = "shop"


def _landing(lake: Path) -> Landing:
    default = SinkConfig(table_uri=str(lake / "shop"))
    routes = (
        Route(None, ShopEvent, resolve_modes(ShopEvent), default),
        Route("order_placed", OrderPlaced, resolve_modes(OrderPlaced), default.beside(None, name="order_placed")),
        Route("order_refunded", OrderRefunded, resolve_modes(OrderRefunded), default.beside(None, name="refunds")),
    )
    landing = landing_parts(
        PipelineContracts(routes, field="type"),
        pipeline="shop-test",
        consumer_group="g",
        run_id="run",
        source_uris={TOPIC: "kafka://127.0.0.1:9092/shop"},
    )
    landing.open()
    return landing


def _event(offset: int) -> bytes:
    kind = ("order_placed", "order_refunded", "page_viewed")[offset % 3]
    event: dict[str, object] = {"type": kind, "id": offset}
    if kind == "order_placed":
        event["amount"] = -1 if offset % 10 == 0 else offset * 1.5  # every tenth placed order is invalid
    elif kind == "order_refunded":
        event["reason"] = "damaged"
    return json.dumps(event).encode()


def _batch(first: int, last: int) -> MicroBatch:
    return MicroBatch.of([SourceRecord(TOPIC, 0, o, _event(o)) for o in range(first, last + 1)], close_reason="rows")


def _offsets(lake: Path, table: str) -> Counter:
    return Counter(read_table(str(lake / table), columns=["_offset"])["_offset"].to_pylist())


def test_a_routed_load_is_prepared_without_tables_and_committed_into_every_routes_tables(tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    prepared = landing.preparer.prepare(_batch(0, 59), load_id=uuid.uuid4().hex)
    # preparing touched no table: every table is still empty
    assert all(_offsets(tmp_path, name) == Counter() for name in ("shop", "order_placed", "refunds"))

    outcome = landing.committer.commit(prepared)

    assert [t.load.table_name for t in outcome.tables] == ["shop", "order_placed", "refunds"]
    assert [(t.load.rows_landed, t.load.rows_quarantined) for t in outcome.tables] == [(20, 0), (18, 2), (20, 0)]
    assert outcome.next_offsets == {TopicPartition(TOPIC, 0): 60}
    assert sorted(_offsets(tmp_path, "refunds")) == list(range(1, 60, 3))
    assert sorted(_offsets(tmp_path, "order_placed__quarantine")) == list(range(0, 60, 30))
    assert landing.committer.positions([TopicPartition(TOPIC, 0)]) == {TopicPartition(TOPIC, 0): 60}


def test_a_commit_that_failed_on_one_route_completes_when_called_again(tmp_path: Path) -> None:
    landing = _landing(tmp_path)
    landing.committer.commit(landing.preparer.prepare(_batch(0, 29), load_id=uuid.uuid4().hex))
    prepared = landing.preparer.prepare(_batch(30, 89), load_id="interrupted")
    with unavailable(tmp_path / "refunds"), pytest.raises(StorageUnavailableError):
        landing.committer.commit(prepared)  # the default route and order_placed committed, refunds did not
    # (the pipeline retries under its landing lock: no assignment reads positions between the attempts)

    outcome = landing.committer.commit(prepared)

    assert not outcome.already_landed
    for name, first in (("shop", 2), ("order_placed", 0), ("refunds", 1)):
        offsets = _offsets(tmp_path, name)
        assert max(offsets.values()) == 1, name
        expected = [o for o in range(first, 90, 3) if not (name == "order_placed" and o % 10 == 0)]
        assert sorted(offsets) == expected, name
    loads = [r for r in read_table(str(tmp_path / "_loads")).to_pylist() if r["load_id"].startswith("interrupted")]
    assert sorted((r["table_name"], r["rows_landed"]) for r in loads) == [
        ("order_placed", 18),
        ("refunds", 20),
        ("shop", 20),
    ]
    assert landing.committer.positions([TopicPartition(TOPIC, 0)]) == {TopicPartition(TOPIC, 0): 90}
