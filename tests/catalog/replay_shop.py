"""Contracts of the quarantine replay tests: three versions of an order, each taking one more currency.

``Order`` (v1) takes EUR and USD, ``OrderV2`` adds GBP, ``OrderV3`` adds JPY (each a compatible change); every
version refuses a negative ``amount``. Events refused under v1 are replayed under v2, then under v3.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts import Contract


class Order(Contract, name="replay_orders", version=1, mode="discard_row"):
    order_id: int
    amount: float = Field(ge=0)
    currency: Literal["EUR", "USD"]


class OrderV2(Contract, name="replay_orders", version=2, mode="discard_row"):
    order_id: int
    amount: float = Field(ge=0)
    currency: Literal["EUR", "USD", "GBP"]


class OrderV3(Contract, name="replay_orders", version=3, mode="discard_row"):
    order_id: int
    amount: float = Field(ge=0)
    currency: Literal["EUR", "USD", "GBP", "JPY"]
