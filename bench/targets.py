"""The issue's targets (ratios within one run), checked against the measurements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from bench.generate import DataFile
from bench.latency import LatencyResult
from bench.runner import Measurement

__all__ = ["Target", "check_targets"]


@dataclass(frozen=True, slots=True)
class Target:
    """One target: what was asked, what was measured, and whether it was met (``None``: not measured)."""

    name: str
    wanted: str
    measured: str
    met: bool | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def check_targets(
    measurements: Sequence[Measurement], datasets: Sequence[DataFile], latency: LatencyResult | None
) -> list[Target]:
    """The targets: on the orders data (issue 8: throughput ratios, quarantine, memory, latency), and on every
    dataset (issue 16: file → Delta ≥ 2.5x the per-row baseline, ≥ 1.0x for the per-row ``segment_checked``
    contract; every invalid nested event quarantined with its nested violations)."""
    by = {(m.dataset, m.contestant.name): m for m in measurements}
    orders = next((d for d in datasets if d.name == "orders"), None)

    def rate(name: str, dataset: str = "orders") -> float | None:
        m = by.get((dataset, name))
        return m.median_rate if m is not None else None

    def ratio(name: str, top: str, bottom: str, wanted: float, unit: str = "x", dataset: str = "orders") -> Target:
        a, b = rate(top, dataset), rate(bottom, dataset)
        shown_wanted = f">= {wanted:.0%}" if unit == "%" else f">= {wanted:g}x"
        if not a or not b:
            return Target(name, shown_wanted, "not measured", None)
        value = a / b
        return Target(name, shown_wanted, f"{value:.0%}" if unit == "%" else f"{value:.2f}x", value >= wanted)

    targets = [
        ratio("streamproc file→Delta vs dlt", "streamproc_file", "dlt_delta", 15),
        ratio("streamproc file→Delta vs per-row pydantic", "streamproc_file", "pydantic_rows", 2.5),
        _quarantined(by.get(("orders", "streamproc_file")), orders),
        ratio("streamproc Kafka→Delta, aiokafka, vs aiokafka consume-only", "streamproc_kafka", "aiokafka_consume", 0.70,
              "%"),
        ratio("streamproc Kafka→Delta, aiokafka, validation worker, vs aiokafka consume-only", "streamproc_kafka_worker",
              "aiokafka_consume", 0.70, "%"),
        ratio("streamproc Kafka→Delta, confluent-kafka, vs confluent-kafka consume-only", "streamproc_kafka_confluent",
              "confluent_consume", 0.70, "%"),
        _best_kafka(rate),
        _consumer_gil(by),
        _memory(by.get(("orders", "streamproc_file")), by.get(("orders", "dlt_delta"))),
        _latency(latency),
    ]
    for data in datasets:
        if data.name == "orders":
            continue
        wanted = 1.0 if data.name == "segment_checked" else 2.5
        targets.append(ratio(f"{data.name}: streamproc file→Delta vs per-row pydantic", "streamproc_file",
                             "pydantic_rows", wanted, dataset=data.name))
        if data.name == "segment":
            targets.append(_quarantined(by.get(("segment", "streamproc_file")), data, nested=True))
    return targets


def _best_kafka(rate: Callable[[str], float | None]) -> Target:
    """Issue 19: the best client's Kafka → Delta at twice the Kafka → Delta of the code the issue was filed against
    (:mod:`bench.contestants.streamproc_kafka_baseline`, run beside today's in the same rounds)."""
    name = "best streamproc Kafka→Delta vs the same at dcadf6b (issue 19's baseline), same run"
    base = rate("streamproc_kafka_baseline")
    best = max((r for r in (rate("streamproc_kafka_confluent"), rate("streamproc_kafka")) if r), default=None)
    if not base or not best:
        return Target(name, ">= 2x", "not measured", None)
    measured = f"{best:,.0f} vs {base:,.0f} = {best / base:.2f}x"
    tuned = rate("streamproc_kafka_baseline_openblas")
    if tuned:
        measured += f" (the old code with OPENBLAS_NUM_THREADS=1: {tuned:,.0f}, {best / tuned:.2f}x)"
    return Target(name, ">= 2x", measured, best / base >= 2)


def _consumer_gil(by: dict[tuple[str, str], Measurement]) -> Target:
    """Issue 19's criterion for adding confluent-kafka: its consuming thread's CPU per event vs aiokafka's."""
    name = "confluent-kafka consume-only: consuming thread's CPU per event vs aiokafka's"
    aio, cfk = by.get(("orders", "aiokafka_consume")), by.get(("orders", "confluent_consume"))
    a = aio.main_cpu_us_per_event if aio else None
    c = cfk.main_cpu_us_per_event if cfk else None
    if not a or not c:
        return Target(name, "<= 60% (40 % less)", "not measured", None)
    return Target(name, "<= 60% (40 % less)", f"{c:.2f} vs {a:.2f} µs = {c / a:.0%}", c / a <= 0.6)


def _quarantined(m: Measurement | None, data: DataFile | None, *, nested: bool = False) -> Target:
    name = "every invalid row quarantined (streamproc file→Delta)"
    if nested and data is not None:
        name = f"{data.name}: every invalid event quarantined with its nested violation (streamproc file→Delta)"
    if m is None or data is None or not m.ok_runs:
        return Target(name, "all, none landed", "not measured", None)
    outcomes = [r.outcome or {} for r in m.ok_runs]
    expected = data.expected_rejected
    ok = all(o.get("quarantined") == expected and o.get("bad_landed") == 0 and o.get("dropped") == 0
             and (not nested or o.get("nested_located") == expected) for o in outcomes)
    worst = outcomes[0]
    located = f", {worst.get('nested_located') or 0:,} with a nested loc" if nested else ""
    return Target(name, f"{expected:,} quarantined{' with a nested loc' if nested else ''}, 0 landed, 0 dropped",
                  f"{worst.get('quarantined', 0):,} quarantined{located}, {worst.get('bad_landed', 0):,} landed, "
                  f"{worst.get('dropped', 0):,} dropped (each of {len(outcomes)} runs: {'same' if ok else 'differs'})",
                  ok)


def _memory(ours: Measurement | None, dlt: Measurement | None) -> Target:
    name, wanted = "peak RSS: streamproc file→Delta vs dlt", "<= 50% of dlt's"
    if ours is None or dlt is None or not ours.peak_rss_bytes or not dlt.peak_rss_bytes:
        return Target(name, wanted, "not measured", None)
    share = ours.peak_rss_bytes / dlt.peak_rss_bytes
    return Target(name, wanted, f"{ours.peak_rss_bytes / 2**20:,.0f} MiB vs {dlt.peak_rss_bytes / 2**20:,.0f} MiB "
                  f"= {share:.0%}", share <= 0.5)


def _latency(latency: LatencyResult | None) -> Target:
    name = "p99 event → visible in Delta at half the saturated rate"
    if latency is None or latency.p99 is None:
        return Target(name, "<= linger + 1 s", "not measured" if latency is None else f"failed: {latency.failed}",
                      None)
    limit = latency.linger_seconds + 1
    return Target(name, f"<= {limit:g} s (linger {latency.linger_seconds:g} s + 1 s)",
                  f"p99 {latency.p99:.2f} s (p50 {latency.p50:.2f} s) at {latency.achieved_rate:,.0f} events/s",
                  latency.p99 <= limit and latency.failed is None)
