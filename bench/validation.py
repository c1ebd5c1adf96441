"""Validation throughput: the fast path vs per-row pydantic on the same batch, clean and with 1 % bad rows.

A self-contained script (issue 3); the peer benchmarks live in the rest of ``bench/`` (issue 8). It generates seeded
order events (ids, PII, money, an enum, a nullable pattern field, a timestamp, a count), validates the same batches
with ``validate_batch(..., fast=True)`` and ``fast=False``, checks that both give the same verdicts, and reports
events per CPU second (best of ``--repeat`` runs; CPU time of this process, so that other work on a shared machine
does not skew the comparison; validation runs on one core). A bad row is a wrong type or a missing field, as producers break
them. Exit code 1 when 1 % bad rows cost the fast path more than 20 % against clean data, or the verdicts differ.

    python bench/validation.py --events 50000 --batch 10000
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import random
import sys
import time
from pathlib import Path
from typing import Annotated

import click
from pydantic import AwareDatetime, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from contracts import Contract, Tag, validate_batch  # noqa: E402
from contracts.fast import fast_plan  # noqa: E402

MAX_SLOWDOWN = 0.20


class Currency(str, enum.Enum):
    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"


class BenchOrder(Contract, name="bench_orders", mode="discard_row"):
    """An order: what most event pipelines carry."""

    order_id: int = Field(ge=1)
    customer_id: Annotated[str, Tag("id")] = Field(min_length=1, max_length=64)
    email: Annotated[str, Tag("email")]
    amount: float = Field(ge=0)
    currency: Currency
    country: str | None = Field(pattern=r"^[A-Z]{2}$")
    placed_at: AwareDatetime
    items: int = Field(ge=1)


def events(count: int, *, bad_percent: float, seed: int = 3) -> list[bytes]:
    """``count`` order events, ``bad_percent`` of them invalid (a wrong type or a missing field, alternately)."""
    rng = random.Random(seed)
    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    bad = set(rng.sample(range(count), round(count * bad_percent / 100)))
    out = []
    for i in range(count):
        event = {
            "order_id": i + 1,
            "customer_id": f"c{rng.randrange(100_000)}",
            "email": f"user{rng.randrange(100_000)}@example.com",
            "amount": round(rng.uniform(1, 500), 2),
            "currency": rng.choice(("EUR", "USD", "GBP")),
            "country": rng.choice(("NL", "DE", "FR", None)),
            "placed_at": (epoch + dt.timedelta(seconds=rng.randrange(10**7))).isoformat().replace("+00:00", "Z"),
            "items": rng.randrange(1, 9),
        }
        if i in bad:
            if i % 2:
                event["amount"] = "lots"
            else:
                del event["email"]
        out.append(json.dumps(event).encode())
    return out


def run_once(payloads: list[bytes], *, batch: int, fast: bool) -> tuple[float, tuple[list[int], list[int]]]:
    """Events per CPU second of one pass, and its verdicts (accepted positions, rejected positions)."""
    accepted: list[int] = []
    rejected: list[int] = []
    started = time.process_time()
    for start in range(0, len(payloads), batch):
        result = validate_batch(BenchOrder, payloads[start : start + batch], fast=fast)
        accepted.extend(start + i for i in result.accepted_index)
        rejected.extend(start + r.index for r in result.rejected)
    return len(payloads) / (time.process_time() - started), (accepted, rejected)


@click.command()
@click.option("--events", "count", default=50_000, show_default=True, help="Events per data set.")
@click.option("--batch", default=10_000, show_default=True, help="Events per validate_batch call (a micro-batch).")
@click.option("--repeat", default=5, show_default=True, help="Interleaved passes per measurement; the best counts.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def main(count: int, batch: int, repeat: int, as_json: bool) -> None:
    """Measure and print events/s for the fast path and per-row pydantic, clean and with 1 % bad rows."""
    if fast_plan(BenchOrder) is None:
        raise click.ClickException("the bench contract does not compile to a fast plan")
    data = {"clean": events(count, bad_percent=0.0), "1% bad": events(count, bad_percent=1.0)}
    results: dict[str, float] = {}
    verdicts: dict[str, object] = {}
    # Interleaved passes, best of each: drift on a shared machine hits every measurement alike.
    for _ in range(repeat):
        for label, payloads in data.items():
            for path, fast in (("fast", True), ("per-row", False)):
                rate, verdict = run_once(payloads, batch=batch, fast=fast)
                key = f"{path} {label}"
                results[key] = max(results.get(key, 0.0), rate)
                verdicts[key] = verdict
    agree = all(verdicts[f"fast {label}"] == verdicts[f"per-row {label}"] for label in data)
    slowdown = 1 - results["fast 1% bad"] / results["fast clean"]
    if as_json:
        click.echo(json.dumps({"events_per_second": results, "bad_rows_slowdown": slowdown, "same_verdicts": agree}))
    else:
        click.echo(f"validation throughput, {count:,} events in batches of {batch:,}: events per CPU second, best of {repeat}")
        click.echo(f"{'':12}{'clean':>14}{'1% bad':>14}")
        for path in ("fast", "per-row"):
            click.echo(f"{path:12}{results[f'{path} clean']:>12,.0f}/s{results[f'{path} 1% bad']:>12,.0f}/s")
        click.echo(f"fast path speed-up: {results['fast clean'] / results['per-row clean']:.1f}x clean, "
                   f"{results['fast 1% bad'] / results['per-row 1% bad']:.1f}x with 1% bad rows")
        click.echo(f"1% bad rows cost the fast path {slowdown:.1%} (limit {MAX_SLOWDOWN:.0%}); "
                   f"verdicts {'identical' if agree else 'DIFFER'}")
    if not agree or slowdown > MAX_SLOWDOWN:
        sys.exit(1)


if __name__ == "__main__":
    main()
