"""The lineage outbox on a real disk, delivered by the real openlineage-python client (its file transport):
order, durability across a killed process, exclusive ownership, refused events kept, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.transport.file import FileConfig, FileTransport

from streamproc.observe.openlineage.delivery import Deliverer
from streamproc.observe.openlineage.observer import adopt_orphans
from streamproc.observe.openlineage.outbox import Outbox, OutboxBusyError
from tests.fixtures.lineage import REPO, read_events
from tests.fixtures.openlineage import event_errors
from tests.fixtures.waiting import PortReservation, wait_until


def _event(run_id: str, event_type: str, n: int) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": f"2026-11-21T10:00:{n:02d}+00:00",
        "producer": "https://streamproc.dev/streamproc/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "streamproc", "name": "orders"},
        "inputs": [],
        "outputs": [{"namespace": "file", "name": f"/lake/orders-{n}", "facets": {}}],
    }


def _file_client(path: Path) -> OpenLineageClient:
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path), append=True)))


def test_events_are_delivered_in_append_order_and_the_log_is_deleted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    run_id = str(uuid.uuid4())
    log = outbox.create(run_id)
    sent = [_event(run_id, t, i) for i, t in enumerate(["START", *["RUNNING"] * 20, "COMPLETE"])]
    deliverer = Deliverer(_file_client(tmp_path / "events.jsonl"), outbox, pipeline="outbox-test")
    deliverer.add(log)
    deliverer.start()
    for event in sent:
        log.append(event)
        deliverer.wake()
    log.seal()

    assert deliverer.close(timeout=30) == 0
    received = read_events(tmp_path / "events.jsonl")
    assert [(e["eventType"], e["outputs"][0]["name"]) for e in received] == [
        (e["eventType"], e["outputs"][0]["name"]) for e in sent
    ]
    assert list((tmp_path / "outbox").iterdir()) == []


def test_a_log_belongs_to_one_process(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    log = outbox.create(str(uuid.uuid4()))
    log.append(_event(str(uuid.uuid4()), "START", 0))

    with pytest.raises(OutboxBusyError):
        type(log)(log.path)
    assert outbox.adopt_orphans() == []
    log.close(delete_if_done=False)
    assert [o.path for o in outbox.adopt_orphans()] == [log.path]


def test_a_killed_run_is_delivered_by_the_next_one_and_ended_with_fail(tmp_path: Path) -> None:
    """A process appends START and two RUNNING events, delivers none, and is killed (SIGKILL-like ``os._exit``)
    while appending a third: its log is adopted, the torn line skipped, a FAIL appended, and all delivered in order."""
    run_id = str(uuid.uuid4())
    events = [_event(run_id, kind, i) for i, kind in enumerate(["START", "RUNNING", "RUNNING"])]
    script = textwrap.dedent(
        f"""
        import json, os, pathlib, sys
        sys.path.insert(0, {str(REPO)!r})
        from streamproc.observe.openlineage.outbox import Outbox
        log = Outbox(pathlib.Path({str(tmp_path / "outbox")!r})).create({run_id!r})
        for event in json.loads({json.dumps(events)!r}):
            log.append(event)
        os.write(log._fd, b'{{"eventType": "RUNNING", "torn')  # killed mid-write
        os._exit(9)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert killed.returncode == 9, killed.stderr

    outbox = Outbox(tmp_path / "outbox")
    orphans = adopt_orphans(outbox, by="the test")
    assert len(orphans) == 1 and orphans[0].pending == 4  # 3 events + the FAIL (the torn line is not an event)
    deliverer = Deliverer(_file_client(tmp_path / "events.jsonl"), outbox, pipeline="outbox-test")
    deliverer.add(orphans[0])
    deliverer.start()
    assert deliverer.close(timeout=30) == 0

    received = read_events(tmp_path / "events.jsonl")
    assert [e["eventType"] for e in received] == ["START", "RUNNING", "RUNNING", "FAIL"]
    assert {e["run"]["runId"] for e in received} == {run_id}
    assert "ended without reporting how" in received[-1]["run"]["facets"]["errorMessage"]["message"]
    assert event_errors(received[-1]) == []
    assert list((tmp_path / "outbox").glob("*.jsonl")) == []


def test_an_event_the_receiver_refuses_is_kept_aside_and_delivery_goes_on(tmp_path: Path) -> None:
    """A real HTTP 422 (the catalog's validation) moves the event to rejected.jsonl; the next ones still arrive."""
    from tests.fixtures.lineage import TOKEN, CatalogServer

    catalog = CatalogServer(tmp_path)
    try:
        catalog.start()
        from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

        client = OpenLineageClient(
            transport=HttpTransport(
                HttpConfig(url=catalog.url, auth=ApiKeyTokenProvider({"apiKey": TOKEN}), retry={"total": 0})
            )
        )
        outbox = Outbox(tmp_path / "outbox")
        run_id = str(uuid.uuid4())
        log = outbox.create(run_id)
        bad = _event(run_id, "RUNNING", 1)
        bad["outputs"][0]["facets"] = {
            "schema": {"_producer": "https://x", "_schemaURL": "https://x#/y", "fields": [{"type": "no name"}]}
        }
        for event in (_event(run_id, "START", 0), bad, _event(run_id, "COMPLETE", 2)):
            log.append(event)
        log.seal()
        deliverer = Deliverer(client, outbox, pipeline="outbox-test", retry_max_seconds=1)
        deliverer.add(log)
        deliverer.start()
        assert deliverer.close(timeout=30) == 0
        assert [e["eventType"] for e in catalog.received()] == ["START", "COMPLETE"]
        rejected = read_events(tmp_path / "outbox" / "rejected.jsonl")
        assert [r["event"] for r in rejected] == [bad] and "422" in rejected[0]["reason"]
    finally:
        catalog.close()


def test_deliveries_and_the_outbox_depth_are_counted_in_the_metrics(tmp_path: Path) -> None:
    """A transport that fails first (an HTTP receiver on a closed port), then one that works: failed attempts and
    successes are counted per event type, and the outbox gauge drains to zero."""
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    from streamproc.observe import metrics

    def count(event_type: str, outcome: str) -> float:
        value = metrics.REGISTRY.get_sample_value(
            "streamproc_openlineage_deliveries_total",
            {"pipeline": "outbox-test", "event_type": event_type, "outcome": outcome},
        )
        return value or 0.0

    run_id = str(uuid.uuid4())
    before = (count("START", "failure"), count("START", "success"), count("COMPLETE", "success"))

    outbox = Outbox(tmp_path / "outbox")
    log = outbox.create(run_id)
    log.append(_event(run_id, "START", 0))
    with PortReservation() as closed:  # bound, never listening: every connection to it is refused
        unreachable = HttpConfig(url=f"http://127.0.0.1:{closed.port}", timeout=1, retry={"total": 0})
        down = OpenLineageClient(transport=HttpTransport(unreachable))
        failing = Deliverer(down, outbox, pipeline="outbox-test", retry_max_seconds=0.1)
        failing.add(log)
        failing.start()
        failing.wake()
        wait_until(lambda: count("START", "failure") > before[0], "a failed delivery counted")
        assert failing.close(timeout=1.5) == 1
    assert metrics.REGISTRY.get_sample_value("streamproc_openlineage_outbox_events",
                                             {"pipeline": "outbox-test"}) == 1

    (adopted,) = outbox.adopt_orphans()
    adopted.append(_event(run_id, "COMPLETE", 1))
    adopted.seal()
    working = Deliverer(_file_client(tmp_path / "events.jsonl"), outbox, pipeline="outbox-test")
    working.add(adopted)
    working.start()
    working.wake()
    assert working.close(timeout=30) == 0
    assert count("START", "success") == before[1] + 1
    assert count("COMPLETE", "success") == before[2] + 1
    assert metrics.REGISTRY.get_sample_value("streamproc_openlineage_outbox_events",
                                             {"pipeline": "outbox-test"}) == 0


def test_each_pipeline_counts_its_own_deliveries(tmp_path: Path) -> None:
    """Two pipelines of one process deliver through their own outboxes: each delivery is counted under the
    ``pipeline`` that sent it, as the outbox gauge and every other pipeline metric are."""
    from streamproc.observe import metrics

    def count(pipeline: str) -> float:
        value = metrics.REGISTRY.get_sample_value(
            "streamproc_openlineage_deliveries_total",
            {"pipeline": pipeline, "event_type": "START", "outcome": "success"},
        )
        return value or 0.0

    pipelines = {"orders-lineage": 1, "payments-lineage": 2}  # pipeline -> START events it delivers
    before = {name: count(name) for name in pipelines}
    for name, starts in pipelines.items():
        outbox = Outbox(tmp_path / name)
        log = outbox.create(str(uuid.uuid4()))
        for n in range(starts):
            log.append(_event(str(uuid.uuid4()), "START", n))
        log.seal()
        deliverer = Deliverer(_file_client(tmp_path / f"{name}.jsonl"), outbox, pipeline=name)
        deliverer.add(log)
        deliverer.start()
        assert deliverer.close(timeout=30) == 0

    assert {name: count(name) - before[name] for name in pipelines} == pipelines
