"""``streamproc quarantine replay``: a too-strict contract v1 quarantined events, v2 relaxes it; the replay lands
exactly what v2 accepts, each once, with its original coordinates, through crashes between its commits, a SIGKILL,
a second replay and a pipeline landing beside it; read back from the real Delta tables."""

from __future__ import annotations

import json
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from streamproc.config import load_config
from streamproc.config.resolve import resolve_contracts
from streamproc.errors import ConcurrentReplayError, StorageUnavailableError
from streamproc.lineage.loads import LoadRecord
from streamproc.ops.quarantine.replay import QuarantineReplay
from streamproc.ops.quarantine.report import ReplaySummary
from streamproc.ops.quarantine.rows import QuarantineFilter, QuarantineSnapshot
from streamproc.ops.quarantine.show import show_quarantine
from streamproc.runtime.build import open_registry
from streamproc.sinks.reader import read_table
from tests.fixtures.exactly_once import unavailable
from tests.fixtures.pipelines import produce, run_async, run_cli, start_cli, stop
from tests.fixtures.quarantine import EVENTS, V2, Lake, assert_balanced, coordinates, event, kind, quarantined_lake
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.kafka

LANDS = ("valid", "gbp", "items7")  # what is in the table once v2's replay is done
STILL_FAILING = ("items50", "malformed")


def _replay_cli(config: Path, *args: str) -> dict[str, Any]:
    result = run_cli("quarantine", "replay", str(config), "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _replay(config: Path, **options: Any) -> ReplaySummary:
    """The replay in this process, as the command runs it."""
    pipeline = load_config(config)
    contracts = resolve_contracts(pipeline)
    registry = open_registry(pipeline, contracts, register=not options.get("dry_run", False))
    return QuarantineReplay(pipeline, contracts, registry, **options).run()


def _resolutions(lake: Path) -> list[dict[str, Any]]:
    return read_table(str(lake / "orders__quarantine_resolutions")).to_pylist()


def _assert_landed_once(lake: Path, quarantined: Lake) -> None:
    """Every event v2 accepts is in the table once, the others are not; every quarantine row has one resolution
    per re-check, replayed ones exactly one ``replayed``; ``_loads`` balances."""
    landed = coordinates(lake / "orders")
    assert [c for c, n in landed.items() if n > 1] == [], "landed twice"
    assert set(landed) == quarantined.of(*LANDS)
    replayed = Counter((r["_partition"], r["_offset"]) for r in _resolutions(lake) if r["status"] == "replayed")
    assert set(replayed) == quarantined.of("gbp", "items7") and set(replayed.values()) == {1}
    assert_balanced(lake)


def test_replay_lands_exactly_what_v2_accepts_once_and_nothing_the_second_time(
    quarantined: Lake, tmp_path: Path
) -> None:
    config = quarantined.copy(tmp_path)
    lake = tmp_path / "lake"
    before = coordinates(lake / "orders")

    dry = _replay_cli(config, "--dry-run")
    assert (dry["landed"], dry["still_failing"]) == (16, 6)
    assert coordinates(lake / "orders") == before and not (lake / "orders__quarantine_resolutions").exists()

    replay = _replay_cli(config, "--batch-size", "7")

    assert (replay["landed"], replay["still_failing"]) == (16, 6)
    _assert_landed_once(lake, quarantined)
    rows = read_table(str(lake / "orders")).to_pylist()
    replayed = [r for r in rows if (r["_partition"], r["_offset"]) in quarantined.of("gbp", "items7")]
    assert {r["_contract_version"] for r in replayed} == {2}
    assert {r["_source"] for r in replayed} == {f"kafka://{quarantined.bootstrap}/{quarantined.topic}"}
    assert {r["currency"] for r in replayed} == {"GBP", "EUR"} and {r["email"][1:4] for r in replayed} == {"***"}
    loads = [l for l in assert_balanced(lake).to_pylist() if l["close_reason"] == "replay"]
    assert {l["load_id"] for l in loads} == {r["_load_id"] for r in replayed}
    assert {(l["contract_version"], l["rows_quarantined"], l["run_id"]) for l in loads} == {(2, 0, replay["run_id"])}
    ranges = [o for l in loads for o in l["offsets"]]
    covered = {(o["partition"], n) for o in ranges for n in range(o["first_offset"], o["last_offset"] + 1)}
    assert covered == quarantined.of("gbp", "items7")
    failing = {(r["_partition"], r["_offset"]): r for r in _resolutions(lake) if r["status"] == "still_failing"}
    assert set(failing) == quarantined.of(*STILL_FAILING)
    for coordinate, resolution in failing.items():
        assert resolution["contract_version"] == 2
        (violation,) = resolution["violations"]
        if quarantined.kinds[coordinate] == "items50":
            assert (violation["loc"], violation["type"]) == ("items", "less_than_equal")
            assert "10" in violation["message"]  # v2's bound, not v1's
        else:
            assert violation["type"] == "json_invalid"

    again = _replay_cli(config)
    assert (again["landed"], again["still_failing"]) == (0, 0)
    (table,) = again["tables"]
    assert (table["taken"], table["skipped"]) == (0, {"replayed": 16, "unchanged": 6})
    _assert_landed_once(lake, quarantined)
    (view,) = show_quarantine(load_config(config), resolve_contracts(load_config(config)))
    assert view.states == {"replayed": 16, "still_failing": 6}
    assert dict(view.by_type) == {"less_than_equal": 4, "json_invalid": 2}
    assert {p["contract_version"] for p in view.over_time} == {2}


class _FailAfterFirstLoad:
    """A replay listener that makes ``path`` unavailable once the first replay load is committed: the next load's
    commit to that table fails, as a crash between two of its commits would leave it."""

    def __init__(self, path: Path, stack: ExitStack) -> None:
        self.path, self.stack, self.failing = path, stack, False

    def on_load(self, load: LoadRecord, quarantine: QuarantineSnapshot) -> None:
        if not self.failing:
            self.failing = True
            self.stack.enter_context(unavailable(self.path))

    def on_start(self, run_id: str, quarantines: list[Any]) -> None: ...

    def on_scan(self, quarantine: QuarantineSnapshot) -> None: ...

    def on_scanned(self, rows: int) -> None: ...

    def on_stop(self, summary: ReplaySummary | None, error: BaseException | None) -> None: ...


@pytest.mark.parametrize("fails", ["orders", "_loads"])
def test_a_replay_load_interrupted_between_its_commits_is_completed_by_the_next_replay(
    quarantined: Lake, tmp_path: Path, fails: str
) -> None:
    config = quarantined.copy(tmp_path)
    lake = tmp_path / "lake"
    with ExitStack() as stack, pytest.raises(StorageUnavailableError):
        _replay(config, batch_size=5, listeners=[_FailAfterFirstLoad(lake / fails, stack)])
    # the second load's resolutions are committed; its rows (fails=orders) or its _loads row (fails=_loads) are not

    summary = _replay(config, batch_size=5)

    (report,) = summary.reports
    assert len(report.completed) == 1
    _assert_landed_once(lake, quarantined)
    assert sum(l["rows_landed"] for l in assert_balanced(lake).to_pylist() if l["close_reason"] == "replay") == 16


class _ReplayMeanwhile(_FailAfterFirstLoad):
    """A replay listener that runs a whole second replay of the same quarantine after the first load."""

    def __init__(self, config: Path) -> None:
        self.config, self.done = config, False

    def on_load(self, load: LoadRecord, quarantine: QuarantineSnapshot) -> None:
        if not self.done:
            self.done = True
            assert _replay(self.config, batch_size=5).landed > 0


def test_a_second_replay_committing_meanwhile_stops_the_first_before_it_lands_twice(
    quarantined: Lake, tmp_path: Path
) -> None:
    config = quarantined.copy(tmp_path)

    with pytest.raises(ConcurrentReplayError, match="one replay at a time"):
        _replay(config, batch_size=5, listeners=[_ReplayMeanwhile(config)])

    _assert_landed_once(tmp_path / "lake", quarantined)
    assert _replay(config).landed == 0


def test_sigkill_mid_replay_then_replay_again_lands_each_event_once(quarantined: Lake, tmp_path: Path) -> None:
    config = quarantined.copy(tmp_path)
    lake = tmp_path / "lake"
    process = start_cli("quarantine", "replay", str(config), "--batch-size", "1", log=tmp_path / "replay.log")
    try:
        # after the first of 22 loads (one row each), with 21 loads (63 commits) left to kill it in
        wait_until(lambda: "committed replay load" in process.output(), "the first replay load", watch=[process],
                   interval=0.02)
    finally:
        process.kill()
    assert process.wait(timeout=60) == -9, "the replay ended before the kill"

    _replay_cli(config)

    _assert_landed_once(lake, quarantined)
    assert _replay_cli(config)["landed"] == 0


def test_a_replay_beside_the_running_pipeline_lands_each_event_once(kafka_bootstrap: str, tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    lake = quarantined_lake(kafka_bootstrap, tmp_path / "v1")  # a topic of its own: the pipeline keeps landing it
    config = lake.copy(tmp_path, contract=V2, batch={"max_rows": 100, "max_linger_seconds": 0.2})
    folder = tmp_path / "lake"
    produced: dict[tuple[int, int], str] = {}
    stop_producing = threading.Event()

    def keep_producing() -> None:  # the pipeline lands while the replay runs, from before it starts to its end
        i = EVENTS
        while not stop_producing.wait(0.25):  # a wave per linger, so the pipeline keeps up (no backlog at the end)
            wave = list(range(i, i + 10))
            landed_at = run_async(produce, kafka_bootstrap, lake.topic, [event(n) for n in wave], partitions=2)
            produced.update((c, kind(n)) for n, c in zip(wave, landed_at))
            i += 10

    producer = threading.Thread(target=keep_producing, daemon=True)
    pipeline = start_cli("run", str(config), log=tmp_path / "run.log")
    try:
        producer.start()
        wait_until(lambda: len(coordinates(folder / "orders")) > len(lake.of("valid")), "the v2 pipeline landing",
                   watch=[pipeline])
        replay = run_cli("quarantine", "replay", str(config), "--json", "--batch-size", "2")
        stop_producing.set()
        producer.join(timeout=120)
        assert replay.returncode == 0, replay.stderr
        assert json.loads(replay.stdout)["landed"] == 16
        expected = lake.of(*LANDS) | {c for c, k in produced.items() if k in LANDS}
        wait_until(lambda: set(coordinates(folder / "orders")) >= expected, "every event produced landed",
                   watch=[pipeline])
    finally:
        stop_producing.set()
        assert stop(pipeline) == 0, pipeline.output()[-3000:]

    landed = coordinates(folder / "orders")
    assert set(landed) == expected and set(landed.values()) == {1}
    quarantine = coordinates(folder / "orders__quarantine")
    refused_by_v2 = {c for c, k in produced.items() if k == "items50"}
    assert set(quarantine) == lake.of("gbp", "items7", *STILL_FAILING) | refused_by_v2
    assert set(quarantine.values()) == {1}
    loads = assert_balanced(folder).to_pylist()
    assert sum(l["rows_landed"] for l in loads if l["close_reason"] == "replay") == 16


def test_the_summary_says_when_it_leaves_violation_types_out(tmp_path: Path) -> None:
    # "still fail 7 (json_invalid: 1, ..., utf8_invalid: 1)" named five of the nine types, and did not say so.
    (tmp_path / "tiny.py").write_text(
        "from typing import Literal\nfrom pydantic import Field\nfrom contracts import Contract\n\n"
        "class Tiny(Contract, name='tiny', version=1):\n"
        "    n: int = Field(ge=0)\n    s: str\n    c: Literal['a']\n"
    )
    (tmp_path / "tiny.ndjson").write_bytes(b"\n".join([
        b'{"n": 1, "s": "x", "c": "a"}', b"{oops", b"[1]", b'{"n": "x", "s": "x", "c": "a"}',
        b'{"n": -1, "s": "x", "c": "a"}', b'{"n": 1, "s": 2, "c": "a"}', b'{"n": 1, "s": "x", "c": "b"}',
        b'{"n": 1, "s": "x", "c": "a", "extra": 1}',
    ]) + b"\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(json.dumps({
        "name": "tiny", "contract": "tiny:Tiny", "source": {"type": "file", "path": "tiny.ndjson"},
        "sink": {"table_uri": "lake/tiny"}, "observability": {"enabled": False},
    }))
    assert run_cli("run", str(config)).returncode == 0
    (tmp_path / "tiny.py").write_text((tmp_path / "tiny.py").read_text().replace("version=1", "version=2")
                                      .replace("Literal['a']", "Literal['a', 'b']"))

    dry = run_cli("quarantine", "replay", str(config), "--dry-run")
    as_json = run_cli("quarantine", "replay", str(config), "--dry-run", "--json")

    assert dry.returncode == 0, dry.stderr
    (report,) = json.loads(as_json.stdout)["tables"]
    assert len(report["still_failing_by_type"]) == 6
    assert "would still fail 6 (" in dry.stdout and ", 1 more type(s) in --json)" in dry.stdout
