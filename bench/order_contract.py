"""The benchmark's order event: eight fields, the shape most event pipelines carry (ids, PII, money, an enum, a
nullable field, a timestamp, a count). One contract for every contestant: streamproc validates against it, the
per-row baseline calls its ``model_validate_json``, dlt gets it as ``columns``."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import AwareDatetime, Field

from contracts import Contract, Tag

__all__ = ["Currency", "Order"]


class Currency(str, enum.Enum):
    """ISO 4217 codes the shop takes."""

    EUR = "EUR"
    USD = "USD"
    GBP = "GBP"
    JPY = "JPY"
    CHF = "CHF"


class Order(Contract, name="orders", version=1, owner="bench", mode="discard_row"):
    """An order placed in the shop. ``discard_row`` for every entity (dlt's shorthand): a wrong type, a missing
    field or an undeclared key rejects the event."""

    order_id: int = Field(ge=1)
    customer_id: Annotated[str, Tag("id")] = Field(min_length=1, max_length=64)
    email: Annotated[str, Tag("email")]
    amount: float = Field(ge=0, description="order total in the currency's major unit")
    currency: Currency
    country: str | None = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2; null when unknown")
    placed_at: AwareDatetime
    items: int = Field(ge=1, description="number of line items")
