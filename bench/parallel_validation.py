"""Validation in a worker process: what it saves the consuming process, per event, after the transfer cost.

A self-contained script (issue 8: Kafka → Delta at >= 70 % of aiokafka consume-only needs consuming and validating
to overlap on two cores). It validates the same orders batch (``bench.order_contract:Order``, 1 % invalid rows and
1 % with an undeclared key) in-process and in a :class:`streamproc.validation.pool.ValidationPool` worker and reports:

1. **Worker start-up**: seconds until a ``spawn`` / ``forkserver`` worker has loaded and compiled the contract, and
   the seconds until a batch succeeds again after a worker is killed (the pool replaces it).
2. **Parent CPU per event** (``process_time`` of this process, every thread: the pool's feeder and result threads
   count): ``validate_batch`` in-process vs ``pool.validate``; and the worker's CPU per event (``/proc``).
3. **Transfer cost per event, each way**, isolated with a bare ``ProcessPoolExecutor``: sending the payloads as a
   pickled ``list[bytes]`` vs one joined buffer + an offsets array (the worker slices it back); returning the
   verdicts as ``ValidationResult`` dataclasses vs the pool's packed tuples (rebuilt here).
4. **Wall time with a busy parent**: a CPU-bound loop in the main thread simulating the consumer (one
   ``ConsumerRecord``-like dataclass per event, as aiokafka builds) while the batches are validated in a thread of the
   same process (as streamproc's preparer does by default) vs in the worker.

Medians of ``--repeat`` interleaved rounds. Exit code 1 when the worker's verdicts differ from in-process ones.

    python bench/parallel_validation.py --events 50000 --repeat 5
"""

from __future__ import annotations

import array
import json
import os
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from contracts import ValidationResult, load_contract, validate_batch  # noqa: E402
from streamproc.validation.pool import ValidationPool, ValidationWorkerError, _pack_rejections, _unpack  # noqa: E402

CONTRACT = "bench.order_contract:Order"
DATA = ROOT / "var" / "bench" / "data" / "orders-200000-8.ndjson"


@dataclass
class ConsumerRecord:
    """The shape aiokafka builds per message (its own ``ConsumerRecord`` dataclass): the simulated consumer's work."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    checksum: int | None
    serialized_key_size: int
    serialized_value_size: int
    headers: tuple[tuple[str, bytes], ...]


def consume(payloads: list[bytes]) -> int:
    """The simulated consumer: one record object per payload (CPU-bound, holds the GIL)."""
    records = [ConsumerRecord("orders", 0, i, 0, 0, None, p, None, -1, len(p), ()) for i, p in enumerate(payloads)]
    return len(records)


# -- transfer probes (run in a bare worker) -------------------------------------------------------------------------

_CACHED: dict[str, Any] = {}


def _prepare(reference: str, payloads: list[bytes]) -> None:
    result = validate_batch(load_contract(reference), payloads)
    _CACHED["result"] = result
    _CACHED["packed"] = (result.accepted, result.accepted_index, _pack_rejections(result.rejected), result.new_columns)


def _take_list(payloads: list[bytes]) -> int:
    return len(payloads)


def _take_joined(joined: bytes, offsets: array.array) -> int:
    payloads = [joined[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    return len(payloads)


def _give(kind: str) -> Any:
    return _CACHED[kind]


def _joined(payloads: list[bytes]) -> tuple[bytes, array.array]:
    offsets = array.array("q", [0])
    total = 0
    for payload in payloads:
        total += len(payload)
        offsets.append(total)
    return b"".join(payloads), offsets


def _cpu(call: Callable[[], Any]) -> float:
    """This process's CPU seconds (all threads) spent in ``call``."""
    started = time.process_time()
    call()
    return time.process_time() - started


def _worker_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from ``/proc``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _same(a: ValidationResult, b: ValidationResult) -> bool:
    return a.accepted.equals(b.accepted) and a.accepted_index == b.accepted_index and a.rejected == b.rejected


def measure(payloads: list[bytes], *, repeat: int, batches: int) -> dict[str, Any]:
    """Every measurement of the module docs; times in seconds, costs in µs per event."""
    contract = load_contract(CONTRACT)
    n = len(payloads)
    per_event = 1e6 / n
    out: dict[str, Any] = {"events": n, "repeat": repeat, "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    validate_batch(contract, payloads[:1000])  # compile the fast plan here too

    # 1. start-up
    startup: dict[str, float] = {}
    for method in ("spawn", "forkserver"):
        started = time.perf_counter()
        pool = ValidationPool([contract], start_method=method)  # type: ignore[arg-type]
        pool.start()
        startup[method] = time.perf_counter() - started
        pool.close()
    out["startup_seconds"] = startup

    with ValidationPool([contract]) as pool:
        # 2. parent CPU, in-process vs offloaded, and the worker's CPU
        inline = validate_batch(contract, payloads)
        offloaded = pool.validate(contract, payloads)
        out["same_verdicts"] = _same(inline, offloaded)
        out["rejected"] = len(inline.rejected)
        pid = pool.pids[0]
        costs: dict[str, list[float]] = {"in-process": [], "offloaded": [], "worker": []}
        for _ in range(repeat):
            costs["in-process"].append(_cpu(lambda: validate_batch(contract, payloads)) * per_event)
            before = _worker_cpu(pid)
            costs["offloaded"].append(_cpu(lambda: pool.validate(contract, payloads)) * per_event)
            costs["worker"].append((_worker_cpu(pid) - before) * per_event)
        out["parent_cpu_us_per_event"] = {k: statistics.median(v) for k, v in costs.items()}

        # 4. wall time with a busy parent (before the kill below, on a warm worker)
        batch_list = [payloads] * batches
        consumed = payloads * batches
        walls: dict[str, list[float]] = {"consumer alone": [], "validation alone (in-process)": [],
                                         "consumer + validation in a thread": [],
                                         "consumer + validation in the worker": []}

        def in_thread() -> None:
            worker = threading.Thread(target=lambda: [validate_batch(contract, b) for b in batch_list])
            worker.start()
            consume(consumed)
            worker.join()

        def in_worker() -> None:
            futures = [pool.submit(contract, b) for b in batch_list]
            consume(consumed)
            for future in futures:
                future.result()

        for _ in range(repeat):
            for label, call in (("consumer alone", lambda: consume(consumed)),
                                ("validation alone (in-process)",
                                 lambda: [validate_batch(contract, b) for b in batch_list]),
                                ("consumer + validation in a thread", in_thread),
                                ("consumer + validation in the worker", in_worker)):
                started = time.perf_counter()
                call()
                walls[label].append(time.perf_counter() - started)
        out["busy_parent_wall_seconds"] = {k: statistics.median(v) for k, v in walls.items()}
        out["busy_parent_events"] = n * batches

        # 1b. a killed worker: the next batch fails, the one after runs on a fresh worker
        os.kill(pool.pids[0], signal.SIGKILL)
        try:
            pool.validate(contract, payloads[:100])
        except ValidationWorkerError:
            pass
        started = time.perf_counter()
        pool.validate(contract, payloads[:100])
        out["restart_seconds"] = time.perf_counter() - started
        out["restarts"] = pool.restarts

    # 3. transfer each way, isolated
    import multiprocessing

    transfer: dict[str, list[float]] = {"send list[bytes]": [], "send joined + offsets": [],
                                        "return ValidationResult": [], "return packed + rebuild": []}
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        executor.submit(_prepare, CONTRACT, payloads).result()
        for _ in range(repeat):
            transfer["send list[bytes]"].append(_cpu(lambda: executor.submit(_take_list, payloads).result()))
            transfer["send joined + offsets"].append(
                _cpu(lambda: executor.submit(_take_joined, *_joined(payloads)).result())
            )
            transfer["return ValidationResult"].append(_cpu(lambda: executor.submit(_give, "result").result()))
            transfer["return packed + rebuild"].append(
                _cpu(lambda: _unpack(executor.submit(_give, "packed").result()))
            )
    out["transfer_parent_cpu_us_per_event"] = {k: statistics.median(v) * per_event for k, v in transfer.items()}
    out["load_after"] = os.getloadavg()
    return out


@click.command()
@click.option("--events", "count", default=50_000, show_default=True, help="Events per batch (from the orders file).")
@click.option("--repeat", default=5, show_default=True, help="Interleaved rounds; medians are reported.")
@click.option("--batches", default=4, show_default=True, help="Batches validated while the parent is busy.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=DATA,
              show_default=True, help="Orders NDJSON (make it with `python -m bench generate`).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def main(count: int, repeat: int, batches: int, data: Path, as_json: bool) -> None:
    """Measure what validating in a worker process saves the consuming process."""
    with data.open("rb") as lines:
        payloads = [line.rstrip(b"\n") for _, line in zip(range(count), lines)]
    out = measure(payloads, repeat=repeat, batches=batches)
    if as_json:
        click.echo(json.dumps(out, indent=2))
    else:
        parent = out["parent_cpu_us_per_event"]
        click.echo(f"{out['events']:,} orders events per batch ({out['rejected']} rejected), medians of {repeat}; "
                   f"verdicts {'identical' if out['same_verdicts'] else 'DIFFER'}; load average "
                   f"{out['load_before'][0]:.1f} → {out['load_after'][0]:.1f} on {out['cpus']} CPUs")
        click.echo("worker start-up: " + ", ".join(f"{k} {v:.2f} s" for k, v in out["startup_seconds"].items())
                   + f"; after a SIGKILL the next batch succeeded {out['restart_seconds']:.2f} s later")
        click.echo(f"parent CPU: in-process {parent['in-process']:.2f} µs/event, offloaded {parent['offloaded']:.2f}"
                   f" µs/event (saves {parent['in-process'] - parent['offloaded']:.2f}); worker CPU "
                   f"{parent['worker']:.2f} µs/event")
        click.echo("transfer, parent CPU: " + ", ".join(
            f"{k} {v:.3f} µs/event" for k, v in out["transfer_parent_cpu_us_per_event"].items()))
        click.echo(f"busy parent ({out['busy_parent_events']:,} events consumed and validated), wall:")
        for label, seconds in out["busy_parent_wall_seconds"].items():
            click.echo(f"  {label:40} {seconds:6.2f} s  {out['busy_parent_events'] / seconds:>10,.0f} events/s")
    if not out["same_verdicts"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
