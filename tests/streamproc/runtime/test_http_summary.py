"""The run summary of a pipeline with an HTTP source says, per target, what landed, what was quarantined, how many
loads, and where its table, quarantine and ``_loads`` are, as a Kafka or file run does for its table (it listed only
each target's table). The real CLI serving real requests over TCP, landing in real Delta tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.http_source import post, serving, write_http_pipeline

SEGMENT = "tests.fixtures.segment_contracts"


def _track(event: str, **properties: object) -> dict[str, object]:
    return {"type": "track", "userId": "u-1", "event": event, "properties": properties}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_the_summary_counts_each_target(tmp_path: Path, as_json: bool) -> None:
    pipeline = write_http_pipeline(
        tmp_path, routes={"track": f"{SEGMENT}:Track", "track:Order Completed": f"{SEGMENT}:OrderCompleted"}
    )
    batch = [
        _track("Clicked Button", button="buy"),
        _track("Clicked Button", button="back"),
        _track("Order Completed", order_id="o-1", revenue=42.5, currency="EUR"),
        _track("Order Completed", order_id="o-2", revenue=-1, currency="EUR"),  # revenue >= 0: quarantined
    ]
    with serving(pipeline, *(["--json"] if as_json else []), log=tmp_path / "run.log") as served:
        assert post(served.url, "/v1/batch", json={"batch": batch}).status_code == 200
    assert served.process.returncode == 0, served.output()
    lake = pipeline.lake

    if as_json:
        summary = json.loads(served.output().strip().splitlines()[-1])
        assert (summary["rows_landed"], summary["rows_quarantined"]) == (3, 1)
        targets = summary["targets"]
        assert list(targets) == ["segment_events", "tracks", "order_completed"]
        counts = {name: (t["rows_landed"], t["rows_quarantined"], t["events"]) for name, t in targets.items()}
        assert counts == {"segment_events": (0, 0, 0), "tracks": (2, 0, 2), "order_completed": (1, 1, 2)}
        assert targets["order_completed"]["loads"] >= 1
        assert sum(t["loads"] for t in targets.values()) == summary["loads"]
        assert targets["order_completed"]["tables"] == {
            "table": str(lake / "order_completed"),
            "quarantine": str(lake / "order_completed__quarantine"),
            "loads": str(lake / "_loads"),
        }
        assert summary["tables"]["order_completed"] == str(lake / "order_completed")
    else:
        text = served.output()
        assert "  order_completed: 1 landed, 1 quarantined, " in text
        assert "  tracks: 2 landed, 0 quarantined, " in text
        assert f"    quarantine      {lake / 'order_completed__quarantine'}\n" in text
        assert f"    loads           {lake / '_loads'}\n" in text
