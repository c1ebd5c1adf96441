"""Running the contestants: each run in its own process and its own folder, rounds interleaved.

Rounds go contestant after contestant (run 1 of each, then run 2 of each, ...), so that a noisy minute on the
shared machine spreads over all of them instead of sinking one. Each run's tables are counted
(:mod:`bench.outcome`) and then deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import DataFile, bad_order_ids, bad_segment_ids
from bench.outcome import count_outcome

__all__ = ["Contestant", "CONTESTANTS", "RunResult", "Measurement", "run_once", "run_rounds", "REPO"]

REPO = Path(__file__).resolve().parents[1]
WORKER_TIMEOUT_SECONDS = 1800.0


@dataclass(frozen=True, slots=True)
class Contestant:
    """One way of getting the events into Delta.

    Attributes:
        name: the module in :mod:`bench.contestants`.
        title: for the report.
        kafka: reads the dataset's Kafka topic instead of the file.
        lands: lands into Delta (the consume-only ceiling does not).
        venv: runs under the dlt virtualenv instead of the project's.
        drops_recorded: counts what it drops, though it stores none (the hand-written baseline).
        how: one line on what it does, for the report.
        handling: what the report says of invalid rows instead of the counted outcome (``None``: counted).
        datasets: the only datasets it runs on (``None``: every one).
    """

    name: str
    title: str
    kafka: bool = False
    lands: bool = True
    venv: bool = False
    drops_recorded: bool = False
    how: str = ""
    handling: str | None = None
    datasets: tuple[str, ...] | None = None

    def runs_on(self, dataset: str) -> bool:
        return self.datasets is None or dataset in self.datasets


CONTESTANTS: tuple[Contestant, ...] = (
    Contestant("streamproc_file", "streamproc file→Delta", how="`source: file`, default config (20k-row batches), "
               "quarantine + `_loads` + lineage columns, exactly-once txn"),
    Contestant("streamproc_kafka", "streamproc Kafka→Delta, aiokafka", kafka=True, how="fresh consumer group, "
               "`--until-caught-up`, same config, `source.client: aiokafka`; timed assignment → last load committed"),
    Contestant("streamproc_kafka_worker", "streamproc Kafka→Delta, aiokafka, validation worker", kafka=True,
               how="as above with `validation.workers: 1`: batches validated in a second process"),
    Contestant("streamproc_kafka_baseline", "streamproc Kafka→Delta at dcadf6b (issue 19's baseline)", kafka=True,
               datasets=("orders",), how="the code of 2026-11-21 (dcadf6b, aiokafka, before issue 19), run by its own "
               "bench worker from `var/bench-baseline/`, as it ran then (no `OPENBLAS_NUM_THREADS`); timed as then: "
               "assignment → last load committed"),
    Contestant("streamproc_kafka_baseline_openblas", "the same at dcadf6b, OPENBLAS_NUM_THREADS=1", kafka=True,
               datasets=("orders",), how="as above with `OPENBLAS_NUM_THREADS=1`, which today's command sets (the old "
               "one did not): for comparison"),
    Contestant("streamproc_kafka_confluent", "streamproc Kafka→Delta, confluent-kafka", kafka=True,
               how="as above with `source.client: confluent-kafka`, the default (librdkafka fetches in its own "
               "threads; cooperative-sticky)"),
    Contestant("aiokafka_consume", "aiokafka consume-only", kafka=True, lands=False,
               how="`getmany(max_records=10000)`, no validation, no landing (the ceiling)"),
    Contestant("confluent_consume", "confluent-kafka consume-only", kafka=True, lands=False,
               how="`consume(num_messages=10000)` with streamproc's fetch properties, every value's length summed, no "
               "validation, no landing (the ceiling for librdkafka)"),
    Contestant("pydantic_rows", "per-row pydantic→Delta", drops_recorded=True,
               how="`model_validate_json` per event, `from_pylist` + `write_deltalake` per 10k rows"),
    Contestant("dlt_delta", "dlt→Delta", venv=True, how="pydantic model as `columns`, `discard_row` (tables: "
               "`evolve`, else nothing lands), `filesystem` + `table_format=\"delta\"`, 10k-row pages of orjson-parsed "
               "dicts, buffers of 10k items, intermediary files uncompressed, one normalize process (parallel "
               "normalize gained nothing on 2 shared CPUs)"),
    Contestant("delta_write", "Delta write-only", how="`write_deltalake` of the already-built Arrow table, "
               "20k rows per commit (the landing ceiling)", handling="n/a: given only the valid rows, pre-built"),
)


@dataclass(slots=True)
class RunResult:
    """One run of one contestant on one dataset."""

    contestant: str
    dataset: str
    run: int
    events: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_bytes: int = 0
    failed: str | None = None
    outcome: dict[str, Any] | None = None
    load_average: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_cpu_second(self) -> float:
        return self.events / self.cpu_seconds if self.cpu_seconds > 0 else 0.0

    @property
    def main_cpu_seconds(self) -> float | None:
        """CPU seconds of the thread that ran the event loop (``None``: the contestant does not report it)."""
        value = self.extra.get("main_cpu_seconds")
        return float(value) if value is not None else None


@dataclass(slots=True)
class Measurement:
    """Every run of one contestant on one dataset, summarised."""

    contestant: Contestant
    dataset: str
    runs: list[RunResult] = field(default_factory=list)

    @property
    def ok_runs(self) -> list[RunResult]:
        return [r for r in self.runs if r.failed is None]

    @property
    def failed(self) -> str | None:
        return next((r.failed for r in self.runs if r.failed is not None), None)

    @property
    def rates(self) -> list[float]:
        return [r.events_per_second for r in self.ok_runs]

    @property
    def median_rate(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    @property
    def median_cpu_rate(self) -> float | None:
        """Events per CPU-second of the process (all its threads), median over the runs: less at the mercy of
        other work on a shared machine than wall time, though not immune (caches, frequency)."""
        rates = [r.events_per_cpu_second for r in self.ok_runs if r.cpu_seconds > 0]
        return statistics.median(rates) if rates else None

    @property
    def cpu_us_per_event(self) -> float | None:
        """CPU microseconds per event of the whole process (every thread), median over the runs."""
        values = [r.cpu_seconds / r.events * 1e6 for r in self.ok_runs if r.cpu_seconds > 0 and r.events]
        return statistics.median(values) if values else None

    @property
    def main_cpu_us_per_event(self) -> float | None:
        """CPU microseconds per event of the event loop's thread (a consume-only contestant's consuming thread: the
        one holding the GIL; librdkafka's threads are not in it), median over the runs."""
        values = [r.main_cpu_seconds / r.events * 1e6 for r in self.ok_runs if r.main_cpu_seconds and r.events]
        return statistics.median(values) if values else None

    @property
    def peak_rss_bytes(self) -> int | None:
        """The largest peak over the runs."""
        return max((r.peak_rss_bytes for r in self.ok_runs), default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contestant": self.contestant.name,
            "title": self.contestant.title,
            "how": self.contestant.how,
            "dataset": self.dataset,
            "median_events_per_second": self.median_rate,
            "min_events_per_second": min(self.rates, default=None),
            "max_events_per_second": max(self.rates, default=None),
            "median_events_per_cpu_second": self.median_cpu_rate,
            "cpu_us_per_event": self.cpu_us_per_event,
            "main_cpu_us_per_event": self.main_cpu_us_per_event,
            "peak_rss_bytes": self.peak_rss_bytes,
            "runs": [asdict(r) for r in self.runs],
        }


def run_once(
    contestant: Contestant,
    data: DataFile,
    *,
    run: int,
    workdir: Path,
    python: str,
    kafka: dict[str, str] | None,
    batch_rows: int,
    bad_ids: set[Any] | None,
    extra_spec: dict[str, Any] | None = None,
    keep: bool = False,
) -> RunResult:
    """Run ``contestant`` once in a new process on ``data``, count what it left, delete its folder."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    spec = {"data": data.as_dict(), "workdir": str(workdir), "batch_rows": batch_rows, "kafka": kafka,
            **(extra_spec or {})}
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(spec))
    result = RunResult(contestant.name, data.name, run, load_average=os.getloadavg()[0])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            [python, "-m", "bench.worker", contestant.name, str(spec_path)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT_SECONDS, check=False,
        )
    except subprocess.TimeoutExpired:
        result.failed = f"timed out after {WORKER_TIMEOUT_SECONDS:.0f}s"
        return result
    lines = done.stdout.strip().splitlines()
    try:
        payload = json.loads(lines[-1])
    except (IndexError, ValueError):
        result.failed = f"exit {done.returncode}: {done.stderr.strip()[-500:]}"
        return result
    result.peak_rss_bytes = payload.pop("peak_rss_bytes", 0)
    result.failed = payload.pop("failed", None)
    if result.failed is not None:
        result.failed += f" | {done.stderr.strip()[-300:]}"
        return result
    result.events = int(payload.pop("events"))
    result.seconds = float(payload.pop("seconds"))
    result.cpu_seconds = float(payload.pop("cpu_seconds", 0.0))
    tables = payload.pop("tables", {})
    result.extra = payload
    if contestant.lands:
        result.outcome = count_outcome(
            tables, events=result.events, bad_ids=bad_ids, id_column=data.id_column,
            drops_recorded=contestant.drops_recorded,
        ).as_dict()
        if contestant.handling is not None:
            result.outcome["handling"] = contestant.handling
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def run_rounds(
    contestants: Sequence[Contestant],
    datasets: Sequence[DataFile],
    *,
    runs: int,
    workroot: Path,
    python_for: Callable[[Contestant], str | None],
    kafka_for: Callable[[DataFile], dict[str, str] | None],
    batch_rows: int,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> list[Measurement]:
    """``runs`` rounds over every (dataset, contestant); a contestant without a Python (``python_for`` → None) or
    a Kafka contestant without a topic is recorded as not run."""
    measurements = {(d.name, c.name): Measurement(c, d.name) for d in datasets for c in contestants
                    if c.runs_on(d.name)}
    bad = {d.name: _bad_ids(d) for d in datasets}
    for run in range(1, runs + 1):
        for data in datasets:
            for contestant in contestants:
                if not contestant.runs_on(data.name):
                    continue
                measurement = measurements[(data.name, contestant.name)]
                python = python_for(contestant)
                kafka = kafka_for(data) if contestant.kafka else None
                if python is None or (contestant.kafka and kafka is None):
                    if run == 1:
                        why = "no dlt virtualenv (make bench-venv)" if python is None else "no Kafka topic"
                        measurement.runs.append(RunResult(contestant.name, data.name, run, failed=f"not run: {why}"))
                    continue
                started = time.monotonic()
                result = run_once(
                    contestant, data, run=run, workdir=workroot / data.name / contestant.name, python=python,
                    kafka=kafka, batch_rows=batch_rows, bad_ids=bad[data.name],
                )
                measurement.runs.append(result)
                state = result.failed or f"{result.events_per_second:>10,.0f} events/s"
                progress(
                    f"run {run}/{runs} {data.name:<8} {contestant.title:<26} {state} "
                    f"({time.monotonic() - started:.1f}s, load {result.load_average:.1f})"
                )
    return list(measurements.values())


def _bad_ids(data: DataFile) -> set[Any] | None:
    if data.seed is None:
        return None
    if data.name.startswith("segment"):
        return bad_segment_ids(data.events, seed=data.seed)
    invalid, extra = bad_order_ids(data.events, seed=data.seed)
    return invalid | extra
