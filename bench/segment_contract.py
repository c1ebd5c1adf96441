"""The benchmark's nested event: Segment's ``Order Completed`` track call, as Segment's spec and SDKs send it.

camelCase keys (``alias_generator=to_camel`` with ``populate_by_name``), a nested ``context`` with a nested
``library`` and an optional ``page``, ``properties`` with a list of products, constraints at every depth
(``StringConstraints``, ``conint``, ``Field(ge=...)``, decimals with digits and places, ``Literal``s), timestamps and a
``dict[str, bool]`` of integrations. Every type lands through ``model_dump`` and ``from_pylist`` as it is, so the
naive per-row baseline can land it too.

:class:`OrderCompletedChecked` is the same contract with a ``model_validator`` (revenue never above the total):
model-level logic, which keeps a contract on the per-row path.
"""

from __future__ import annotations

import decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, conint, model_validator
from pydantic.alias_generators import to_camel

from contracts import Contract, Tag

__all__ = ["Camel", "Library", "OrderCompleted", "OrderCompletedChecked"]

Money = Annotated[decimal.Decimal, Field(max_digits=12, decimal_places=2, ge=0)]


class Camel(BaseModel):
    """camelCase keys (Segment's), field names accepted too."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Library(Camel):
    name: str
    version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")]


class Page(Camel):
    path: str
    referrer: str | None = None
    search: str = ""
    title: str | None = None
    url: str


class Context(Camel):
    ip: Annotated[str, Tag("ip")]
    library: Library
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}-[A-Z]{2}$")]
    user_agent: str
    timezone: str | None = None
    page: Page | None = None


class Product(Camel):
    product_id: str = Field(min_length=1)
    sku: str
    category: str | None = None
    name: str
    brand: str | None = None
    price: Money
    quantity: conint(ge=1, le=1000)  # type: ignore[valid-type]
    position: int = Field(default=1, ge=1)
    url: str | None = None


class Properties(Camel):
    order_id: str = Field(min_length=1)
    affiliation: str | None = None
    total: Money
    revenue: Money
    shipping: Money = decimal.Decimal(0)
    tax: Money = decimal.Decimal(0)
    discount: Money = decimal.Decimal(0)
    coupon: str | None = None
    currency: Literal["USD", "EUR", "GBP", "JPY", "CHF"]
    products: list[Product] = Field(min_length=1, max_length=50)


class OrderCompleted(Contract, name="order_completed", version=1, owner="bench", mode="discard_row"):
    """Segment's Order Completed track call (Segment's e-commerce spec v2)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    type: Literal["track"]
    event: Literal["Order Completed"]
    message_id: str = Field(min_length=1)
    anonymous_id: Annotated[str | None, Tag("id")] = None
    user_id: Annotated[str | None, Tag("id")] = None
    timestamp: AwareDatetime
    sent_at: AwareDatetime
    received_at: AwareDatetime | None = None
    context: Context
    properties: Properties
    integrations: dict[str, bool] = Field(default_factory=dict)


class OrderCompletedChecked(OrderCompleted, name="order_completed_checked"):
    """The same event with a model-level rule: the revenue is never above the total."""

    @model_validator(mode="after")
    def _revenue_within_total(self) -> OrderCompletedChecked:
        if self.properties.revenue > self.properties.total:
            raise ValueError("revenue above total")
        return self
