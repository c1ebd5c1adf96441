"""The contract of the Faust example: an order event from the web shop (see docs/contracts-guide.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from contracts import Contract, Tag


class Order(Contract, name="orders", version=1, owner="checkout", mode="discard_row"):
    """An order placed in the web shop."""

    order_id: int
    email: Annotated[str, Tag("email")]  # a PII tag: in the OpenLineage events and the catalog
    amount: float = Field(ge=0)
    currency: Literal["EUR", "USD", "GBP"]
    country: str | None = None
    placed_at: AwareDatetime
