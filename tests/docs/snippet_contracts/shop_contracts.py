"""The contracts docs/contracts-guide.md's routing example names (``shop_contracts:OrderPlaced`` ...): a user's own module."""

from __future__ import annotations

from pydantic import Field

from contracts import Contract


class OrderPlaced(Contract, name="order_placed", version=1):
    type: str
    order_id: int
    amount: float = Field(ge=0)


class OrderRefunded(Contract, name="order_refunded", version=1):
    type: str
    order_id: int
    reason: str
