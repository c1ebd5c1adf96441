"""Contracts of the catalog UI's browser tests: what real pipelines landed before the pages are opened.

- ``Order`` (v1, then ``OrderV2`` dropping ``coupon``: a breaking change of the source's schema): PII-tagged
  ``email`` (masked before landing) and ``ip`` (dropped); the default modes (``tables: evolve``, so events of no
  route land through it; ``columns``/``data_type: discard_row``, so bad orders are quarantined);
- ``Refund``: the routed contract (events with ``type: refund`` go to their own table);
- ``Click``: ``columns: evolve``, so a new key becomes a new column (an inferred contract version);
- ``FrozenClick``: ``freeze``, so a bad click stops the run (a ``FAIL`` with its error);
- ``Payment`` (v1, EUR and USD), then ``PaymentV2`` (GBP too): the contract fix a quarantine replay runs with.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from contracts import Contract, Tag


class Order(Contract, name="ui_orders", version=1, owner="checkout", pii={"email": "mask", "ip": "drop"}):
    """An order placed in the web shop."""

    type: Literal["order"] = "order"
    order_id: int
    email: Annotated[str, Tag("email")] = Field(description="the buyer's e-mail address")
    ip: Annotated[str | None, Tag("ip")] = None
    amount: float = Field(ge=0, description="order total")
    currency: Literal["EUR", "USD", "GBP"]
    coupon: str | None = None


class OrderV2(
    Contract,
    name="ui_orders",
    version=2,
    owner="checkout",
    compatibility="NONE",
    pii={"email": "mask", "ip": "drop"},
):
    """An order placed in the web shop (v2: coupons are gone)."""

    type: Literal["order"] = "order"
    order_id: int
    email: Annotated[str, Tag("email")] = Field(description="the buyer's e-mail address")
    ip: Annotated[str | None, Tag("ip")] = None
    amount: float = Field(ge=0, description="order total")
    currency: Literal["EUR", "USD", "GBP"]


class Refund(Contract, name="ui_refunds", version=1, owner="checkout"):
    """A refund of an order (routed by ``type``)."""

    type: Literal["refund"]
    order_id: int
    amount: float = Field(ge=0)


class Click(Contract, name="ui_clicks", version=1, mode={"columns": "evolve"}):
    """A click on the shop's pages."""

    page: str
    user_id: int


class FrozenClick(Contract, name="ui_frozen_clicks", version=1, mode="freeze"):
    """A click under a frozen contract: any violation stops the pipeline."""

    page: str
    user_id: int


class Payment(Contract, name="ui_payments", version=1):
    """A payment of an order."""

    payment_id: int
    amount: float = Field(ge=0)
    currency: Literal["EUR", "USD"]


class PaymentV2(Contract, name="ui_payments", version=2):
    """A payment of an order (v2: GBP is taken)."""

    payment_id: int
    amount: float = Field(ge=0)
    currency: Literal["EUR", "USD", "GBP"]
