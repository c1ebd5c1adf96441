"""Real pipelines feed a real catalog for the UI's browser tests: ``streamproc run`` on a Kafka topic (the session's
real broker) and on NDJSON files with lineage on, its OpenLineage events sent by openlineage-python's HTTP transport to
``streamproc catalog serve``.

What lands (``feed``):

1. ``ui-orders`` from a 2-partition topic (contract ``Order`` v1, routed: ``type: refund`` → ``Refund`` into
   ``lake/refunds``): 24 orders, 5 refunds, and 6 bad events quarantined: 3 negative amounts (``amount``), 2 unknown
   currencies (``currency``), 1 payload that is not JSON. ``email`` is masked and ``ip`` dropped before landing (and
   in the quarantine).
2. ``ui-orders`` again with ``OrderV2`` (``coupon`` removed, compatibility ``NONE``): nothing new lands, but the
   topic's schema loses a field: a breaking change in its schema history.
3. ``ui-clicks`` (``columns: evolve``): the later clicks carry ``referrer``, which becomes a new column.
4. ``ui-frozen`` (``freeze``): the third click is bad, the run stops and reports ``FAIL`` with its error.
5. ``ui-payments`` from an NDJSON file (``Payment`` v1): 4 payments land, 2 in GBP (``currency``), 3 negative
   amounts (``amount``) and 1 payload that is not JSON are quarantined. Then ``streamproc quarantine replay`` with
   ``PaymentV2`` (GBP taken) of the ``literal_error`` and ``greater_than_equal`` rows: the GBP payments are replayed
   into ``lake/payments``, the negative amounts still fail, the payload that is not JSON is never taken (open). The
   replay is a run of its own job, ``ui-payments.quarantine_replay``. The orders' quarantine is never replayed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.lineage import CatalogServer, http_transport_env, streamproc
from tests.fixtures.pipelines import produce, run_async
from tests.fixtures.waiting import DEADLINE_SECONDS, wait_until

SHOP = "tests.catalog.ui.shop"
ORDERS = 24
REFUNDS = 5
BAD_AMOUNTS = 3
BAD_CURRENCIES = 2
MALFORMED = 1
QUARANTINED = BAD_AMOUNTS + BAD_CURRENCIES + MALFORMED
PAYMENTS = 4
REPLAYED = 2  # payments in GBP: PaymentV2 takes them
STILL_FAILING = 3  # negative amounts: refused by PaymentV2 too
OPEN = 1  # not JSON: not taken by the replay


@dataclass(frozen=True)
class Fed:
    """Where the scenario's files, tables and jobs are."""

    workdir: Path
    lake: Path
    bootstrap: str
    topic: str
    clicks_file: Path

    @property
    def orders_table(self) -> str:
        return f"dataset:file:{self.lake / 'orders'}"

    @property
    def orders_quarantine(self) -> str:
        return f"dataset:file:{self.lake / 'orders__quarantine'}"

    @property
    def refunds_table(self) -> str:
        return f"dataset:file:{self.lake / 'refunds'}"

    @property
    def payments_table(self) -> str:
        return f"dataset:file:{self.lake / 'payments'}"

    @property
    def orders_topic(self) -> str:
        return f"dataset:kafka://{self.bootstrap}:{self.topic}"

    @property
    def clicks_table(self) -> str:
        return f"dataset:file:{self.lake / 'clicks'}"

    orders_job = "job:streamproc:ui-orders"
    clicks_job = "job:streamproc:ui-clicks"
    frozen_job = "job:streamproc:ui-frozen"
    payments_replay_job = "job:streamproc:ui-payments.quarantine_replay"


def _order(i: int, **changes: Any) -> dict[str, Any]:
    order = {
        "type": "order",
        "order_id": i,
        "email": f"buyer{i}@example.com",
        "ip": f"10.0.0.{i}",
        "amount": 10.0 + i,
        "currency": "EUR",
        "coupon": "WELCOME" if i % 4 == 0 else None,
    }
    return {**order, **changes}


def _orders() -> list[bytes]:
    lines = []
    for i in range(ORDERS):
        lines.append(json.dumps(_order(i)).encode())
        if i % 5 == 0 and i // 5 < REFUNDS:
            lines.append(json.dumps({"type": "refund", "order_id": i, "amount": 1.5}).encode())
    for i in range(BAD_AMOUNTS):
        lines.append(json.dumps(_order(100 + i, amount=-5.0)).encode())
    for i in range(BAD_CURRENCIES):
        lines.append(json.dumps(_order(200 + i, currency="JPY")).encode())
    lines.append(b"{this is not json")
    return lines


def _clicks() -> list[bytes]:
    clicks = [{"page": f"/p/{i}", "user_id": i} for i in range(6)]
    clicks += [{"page": f"/p/{i}", "user_id": i, "referrer": "https://example.org"} for i in range(6, 10)]
    return [json.dumps(c).encode() for c in clicks]


def _payments() -> bytes:
    payments = [{"payment_id": i, "amount": 5.0 + i, "currency": "EUR"} for i in range(PAYMENTS)]
    payments += [{"payment_id": 10 + i, "amount": 7.5, "currency": "GBP"} for i in range(REPLAYED)]
    payments += [{"payment_id": 20 + i, "amount": -1.0, "currency": "USD"} for i in range(STILL_FAILING)]
    return b"".join(json.dumps(p).encode() + b"\n" for p in payments) + b"{this is not json either\n" * OPEN


def _config(fed: Fed, name: str, contract: str, source: dict[str, Any], table: str, **sections: Any) -> Path:
    config = {
        "name": name,
        "contract": contract,
        "source": source,
        "sink": {"table_uri": str(fed.lake / table)},
        "batch": {"max_rows": 8, "max_linger_seconds": 0.5},
        "observability": {"enabled": False},
        "lineage": {"enabled": True, "outbox_dir": str(fed.workdir / "outbox"), "retry_max_seconds": 1},
        **sections,
    }
    path = fed.workdir / f"{name}-{contract.rsplit(':', 1)[-1]}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def feed(workdir: Path, catalog: CatalogServer, bootstrap: str, *, timeout: float = DEADLINE_SECONDS) -> Fed:
    """Run the five pipelines and the replay against ``catalog`` (Kafka at ``bootstrap``) and wait until it has
    every run's last event.

    Raises:
        AssertionError: a run ended otherwise than planned, or the catalog did not get its events in time.
    """
    fed = Fed(
        workdir=workdir,
        lake=workdir / "lake",
        bootstrap=bootstrap,
        topic=f"ui-orders-{uuid.uuid4().hex[:8]}",
        clicks_file=workdir / "clicks.ndjson",
    )
    run_async(produce, bootstrap, fed.topic, _orders(), partitions=2)
    fed.clicks_file.write_bytes(b"\n".join(_clicks()) + b"\n")
    payments = workdir / "payments.ndjson"
    payments.write_bytes(_payments())
    frozen = workdir / "frozen.ndjson"
    frozen.write_bytes(b'{"page": "/a", "user_id": 1}\n{"page": "/b", "user_id": 2}\n{"page": "/c", "user_id": "x"}\n')
    routing = {"field": "type", "routes": {"refund": {"contract": f"{SHOP}:Refund", "table_uri": str(fed.lake / "refunds")}}}
    env = http_transport_env(catalog.url)
    kafka = {"type": "kafka", "bootstrap_servers": bootstrap, "topics": [fed.topic], "consumer_group": f"g-{fed.topic}"}
    runs = [
        (_config(fed, "ui-orders", f"{SHOP}:Order", kafka, "orders", routing=routing), 0),
        (_config(fed, "ui-orders", f"{SHOP}:OrderV2", kafka, "orders", routing=routing), 0),
        (_config(fed, "ui-clicks", f"{SHOP}:Click", {"type": "file", "path": str(fed.clicks_file)}, "clicks"), 0),
        (_config(fed, "ui-frozen", f"{SHOP}:FrozenClick", {"type": "file", "path": str(frozen)}, "frozen"), 3),
        (_config(fed, "ui-payments", f"{SHOP}:Payment", {"type": "file", "path": str(payments)}, "payments"), 0),
    ]
    for config, expected in runs:
        result = streamproc("run", str(config), "--until-caught-up", env=env)
        assert result.returncode == expected, f"{config.name}: exit {result.returncode}\n{result.stderr[-3000:]}"
    fixed = _config(fed, "ui-payments", f"{SHOP}:PaymentV2", {"type": "file", "path": str(payments)}, "payments")
    taken = ("--type", "literal_error", "--type", "greater_than_equal")
    replayed = streamproc("quarantine", "replay", str(fixed), *taken, env=env)
    assert replayed.returncode == 0, f"replay: exit {replayed.returncode}\n{replayed.stderr[-3000:]}"
    assert f"landed {REPLAYED} row(s); {STILL_FAILING} still fail" in replayed.stdout, replayed.stdout
    _wait_for_runs(catalog, ends={"COMPLETE": 5, "FAIL": 1}, timeout=timeout)
    return fed


def _wait_for_runs(catalog: CatalogServer, *, ends: dict[str, int], timeout: float) -> None:
    seen: dict[str, int] = {}

    def every_run_ended() -> bool:
        received = catalog.received()
        seen.update({state: sum(1 for e in received if e.get("eventType") == state) for state in ends})
        return seen == ends

    watch = [catalog.process] if catalog.process is not None else []
    try:
        wait_until(every_run_ended, f"{ends} terminal events in the catalog", timeout=timeout, watch=watch)
    except AssertionError as exc:
        raise AssertionError(f"the catalog received {seen} terminal events, expected {ends}: {exc}") from None
