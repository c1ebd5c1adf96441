"""What a contestant did with the events, counted from the Delta tables it left (never from its own claims).

For the generated orders the invalid events and those with an undeclared key are known by ``order_id``
(:func:`bench.generate.bad_order_ids`), so the count of bad events that *landed* is exact. Dropped = input events
neither landed nor quarantined.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deltalake import DeltaTable

__all__ = ["Outcome", "count_outcome", "count_rows"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Rows in the tables a run left.

    Attributes:
        landed: rows in the table.
        quarantined: rows in the quarantine table (0 where the contestant has none).
        dropped: input events neither landed nor quarantined.
        bad_landed: invalid or undeclared-key events that landed anyway (``None`` where not known: real data).
        handling: how invalid events were treated, in words (``quarantined``, ``dropped silently``, ...).
        nested_located: quarantined rows with a violation located inside the event (a dotted ``loc`` such as
            ``properties.products.0.quantity``); ``None`` without a quarantine table.
    """

    landed: int
    quarantined: int
    dropped: int
    bad_landed: int | None
    handling: str
    nested_located: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def count_rows(uri: str | Path) -> int:
    """Rows in the Delta table at ``uri``; 0 when there is no table."""
    if not (Path(uri) / "_delta_log").is_dir():
        return 0
    return DeltaTable(str(uri)).to_pyarrow_dataset().count_rows()


def count_outcome(
    tables: dict[str, str],
    *,
    events: int,
    bad_ids: set[Any] | None,
    id_column: str = "order_id",
    drops_recorded: bool = False,
) -> Outcome:
    """Count a run's outcome from its ``table`` and (if any) ``quarantine`` table.

    Args:
        tables: role → location, as the contestant reported it.
        events: input events the run processed.
        bad_ids: ids of the events a correct validator rejects (``None``: unknown).
        drops_recorded: the contestant counted what it dropped (the hand-written baseline), though it stored none.
    """
    landed = count_rows(tables["table"])
    quarantined = count_rows(tables["quarantine"]) if tables.get("quarantine") else 0
    dropped = max(events - landed - quarantined, 0)
    bad_landed = None
    if bad_ids is not None and landed:
        ids = DeltaTable(tables["table"]).to_pyarrow_table(columns=[id_column])[id_column].to_pylist()
        bad_landed = len(bad_ids.intersection(ids))
    nested = None
    if quarantined:
        violations = DeltaTable(tables["quarantine"]).to_pyarrow_table(columns=["violations"])["violations"]
        nested = sum(any("." in (v["loc"] or "") for v in row) for row in violations.to_pylist())
    parts = []
    if quarantined:
        parts.append(f"{quarantined:,} quarantined")
    if dropped:
        parts.append(f"{dropped:,} dropped" + (" (counted, not stored)" if drops_recorded else " silently"))
    if bad_landed:
        parts.append(f"{bad_landed:,} bad landed")
    return Outcome(landed, quarantined, dropped, bad_landed, ", ".join(parts) or "none rejected", nested)
