"""The run summary of a routed pipeline says, per route, what its table landed, what its quarantine took, how many
loads and events, and where its table, quarantine and ``_loads`` are, as an HTTP source's summary does per target
(it listed only the default route's tables, while the totals covered every route). The real CLI on a file source,
landing in real Delta tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.fixtures.pipelines import run_cli

SHOP = "tests.fixtures.shop_events"

EVENTS = [
    *({"type": "order_placed", "id": i, "amount": -1.0 if i == 3 else 2.5} for i in range(6)),  # amount >= 0
    *({"type": "order_refunded", "id": 10 + i, "reason": "late"} for i in range(3)),
    {"type": "cart_viewed", "id": 20},  # no route: the pipeline's own contract
    {"type": "cart_viewed", "id": 21},
]


def _write_pipeline(tmp_path: Path) -> Path:
    data = tmp_path / "shop.ndjson"
    data.write_bytes(b"\n".join([*(json.dumps(e).encode() for e in EVENTS), b"not json"]) + b"\n")
    config = {
        "name": "shop",
        "contract": f"{SHOP}:ShopEvent",
        "source": {"type": "file", "path": data.name},
        "sink": {"table_uri": "lake/shop_events"},
        "batch": {"max_rows": 5},
        "observability": {"port": 0},
        "routing": {"field": "type", "routes": {
            "order_placed": f"{SHOP}:OrderPlaced",
            "order_refunded": {"contract": f"{SHOP}:OrderRefunded", "table_uri": "lake/refunds"},
        }},
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_the_summary_counts_each_route(tmp_path: Path, as_json: bool) -> None:
    config = _write_pipeline(tmp_path)
    lake = tmp_path / "lake"

    run = run_cli("run", str(config), "--until-caught-up", *(["--json"] if as_json else []))

    assert run.returncode == 0, run.stderr
    batches = 3  # 12 events in batches of 5; every route's table records every load
    if as_json:
        summary = json.loads(run.stdout)
        assert (summary["rows_landed"], summary["rows_quarantined"], summary["events"]) == (10, 2, 12)
        assert summary["tables"] == {  # the default route's, as before
            "table": str(lake / "shop_events"),
            "quarantine": str(lake / "shop_events__quarantine"),
            "loads": str(lake / "_loads"),
        }
        routes = summary["targets"]
        assert list(routes) == ["shop_events", "order_placed", "refunds"]
        counts = {name: (r["rows_landed"], r["rows_quarantined"], r["events"], r["loads"]) for name, r in routes.items()}
        assert counts == {
            "shop_events": (2, 1, 3, batches),  # two unrouted events and the line that is not JSON
            "order_placed": (5, 1, 6, batches),
            "refunds": (3, 0, 3, batches),
        }
        assert sum(r["loads"] for r in routes.values()) == summary["loads"]
        assert sum(r["bytes"] for r in routes.values()) == summary["bytes"]
        assert routes["refunds"]["tables"] == {
            "table": str(lake / "refunds"),
            "quarantine": str(lake / "refunds__quarantine"),
            "loads": str(lake / "_loads"),
        }
    else:
        text = run.stdout
        assert "  rows landed                 10\n" in text
        assert f"  shop_events: 2 landed, 1 quarantined, {batches} load(s), 3 events\n" in text
        assert f"  order_placed: 5 landed, 1 quarantined, {batches} load(s), 6 events\n" in text
        assert f"  refunds: 3 landed, 0 quarantined, {batches} load(s), 3 events\n" in text
        assert f"    table           {lake / 'order_placed'}\n" in text
        assert f"    quarantine      {lake / 'refunds__quarantine'}\n" in text
        assert f"    loads           {lake / '_loads'}" in text


def test_a_rerun_counts_nothing_for_any_route(tmp_path: Path) -> None:
    config = _write_pipeline(tmp_path)
    assert run_cli("run", str(config), "--until-caught-up").returncode == 0

    again = run_cli("run", str(config), "--until-caught-up", "--json")

    assert again.returncode == 0, again.stderr
    routes = json.loads(again.stdout)["targets"]
    assert {name: (r["rows_landed"], r["events"], r["loads"]) for name, r in routes.items()} == {
        "shop_events": (0, 0, 0), "order_placed": (0, 0, 0), "refunds": (0, 0, 0)
    }
