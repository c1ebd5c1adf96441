"""The idiom catalogue: contracts written the way pydantic's docs and real event schemas write them (issue 16).

One small contract per everyday idiom, the field that carries it, the route the fast path must give it
(``columns``: decoded natively; ``field``: validated by pydantic per value, the rest of the event column-wise;
``row``: the whole contract per row), and events that conform and that do not. ``tests/contracts/test_idioms.py``
asserts each route (so a regression shows) and that both paths agree on the events; ``bench/report.py`` puts the
coverage into ``RESULTS.md``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    IPvAnyAddress,
    StringConstraints,
    computed_field,
    condecimal,
    confloat,
    conint,
    constr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from bench.segment_contract import Library
from contracts import Contract

__all__ = ["IDIOMS", "Idiom", "coverage_rows"]


@dataclass(frozen=True, slots=True)
class Idiom:
    """One idiom: its name, a contract using it, the field that carries it and the route it must take; ``good``
    events conform as sent (decoded on the fast path unless the route is ``row``), ``others`` are left to pydantic
    (it coerces or refuses them)."""

    name: str
    contract: type[Contract]
    field: str
    route: str
    good: tuple[str, ...]
    others: tuple[str, ...]


class Plan(str, enum.Enum):
    FREE = "free"
    PRO = "pro"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Product(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    price: float = Field(ge=0)


class Card(BaseModel):
    kind: Literal["card"]
    last4: Annotated[str, StringConstraints(pattern=r"^\d{4}$")]


class Transfer(BaseModel):
    kind: Literal["transfer"]
    iban: str = Field(min_length=15, max_length=34)


def _c(name: str, **fields: Any) -> type[Contract]:
    """A contract named ``idiom_<name>`` with an ``id`` and the given fields (annotation or (annotation, default))."""
    annotations = {"id": int}
    namespace: dict[str, Any] = {"__module__": __name__}
    for field_name, spec in fields.items():
        if isinstance(spec, tuple):
            annotations[field_name], namespace[field_name] = spec
        else:
            annotations[field_name] = spec
    namespace["__annotations__"] = annotations
    return type(f"Idiom{name.title().replace('_', '')}", (Contract,), namespace, name=f"idiom_{name}")


class StringConstraintsOptional(Contract, name="idiom_str_constraints_optional"):
    id: int
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class CamelCase(Contract, name="idiom_camel"):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    id: int
    user_id: str
    sent_at: AwareDatetime


class Aliased(Contract, name="idiom_alias"):
    id: int
    user: str = Field(alias="userId")


class Tagged(Contract, name="idiom_tagged_union"):
    id: int
    payment: Card | Transfer = Field(discriminator="kind")


class Validated(Contract, name="idiom_field_validator"):
    id: int
    sku: str

    @field_validator("sku")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not value.isupper():
            raise ValueError("a SKU is upper case")
        return value


class Computed(Contract, name="idiom_computed_field"):
    id: int
    price_cents: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def price(self) -> float:
        return self.price_cents / 100


class ComputedFromTime(Contract, name="idiom_computed_field_datetime"):
    id: int
    at: AwareDatetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def local_hour(self) -> int:  # reads the sent offset, which the column does not keep
        return self.at.hour


class ConfiguredKeys(Contract, name="idiom_dict_keys_str_config"):
    model_config = ConfigDict(str_strip_whitespace=True, str_to_lower=True, str_min_length=1)
    id: int
    counts: dict[str, int]  # the keys are stripped, lowered and checked too


class ComputedFromFieldsSet(Contract, name="idiom_computed_field_fields_set"):
    id: int
    note: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_note(self) -> bool:  # whether the event sent the key: the fast path's instance has every field set
        return "note" in self.model_fields_set


class ModelValidated(Contract, name="idiom_model_validator"):
    id: int
    start: int
    end: int

    @model_validator(mode="after")
    def _ordered(self) -> ModelValidated:
        if self.end < self.start:
            raise ValueError("end before start")
        return self


_ID = '"id": 1'
IDIOMS: tuple[Idiom, ...] = (
    Idiom("int, float, str, bool", _c("scalars", n=int, x=float, s=str, b=bool), "n", "columns",
          (f'{{{_ID}, "n": 2, "x": 1.5, "s": "a", "b": true}}',), (f'{{{_ID}, "n": "2", "x": 1, "s": "a", "b": 1}}', f'{{{_ID}, "n": "x", "x": 1, "s": "a", "b": true}}')),
    Idiom("Field(ge=..., le=...)", _c("field_bounds", n=Annotated[int, Field(ge=0, le=10)]), "n", "columns",
          (f'{{{_ID}, "n": 10}}',), (f'{{{_ID}, "n": 11}}',)),
    Idiom("Field(pattern=...) | None", _c("field_pattern", c=(str | None, Field(None, pattern=r"^[A-Z]{2}$"))), "c",
          "columns", (f'{{{_ID}, "c": "NL"}}', f'{{{_ID}}}'), (f'{{{_ID}, "c": "nl"}}',)),
    Idiom("Annotated[str, StringConstraints(...)] | None", StringConstraintsOptional, "country", "columns",
          (f'{{{_ID}, "country": "NL"}}', f'{{{_ID}, "country": null}}'), (f'{{{_ID}, "country": "NLD"}}',)),
    Idiom("StringConstraints(strip_whitespace, to_lower)",
          _c("str_transform", s=Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=3)]),
          "s", "columns", (f'{{{_ID}, "s": " AbC "}}',), (f'{{{_ID}, "s": "abcd"}}',)),
    Idiom("constr", _c("constr", s=constr(min_length=2, max_length=4)), "s", "columns",
          (f'{{{_ID}, "s": "ab"}}',), (f'{{{_ID}, "s": "a"}}',)),
    Idiom("conint / confloat", _c("conint", n=conint(gt=0, multiple_of=5), x=confloat(ge=0, lt=1)), "n", "columns",
          (f'{{{_ID}, "n": 10, "x": 0.5}}',), (f'{{{_ID}, "n": 7, "x": 0.5}}', f'{{{_ID}, "n": 5, "x": 1}}')),
    Idiom("Literal of str and of int", _c("literal", s=Literal["a", "b"], n=Literal[1, 2]), "s", "columns",
          (f'{{{_ID}, "s": "a", "n": 2}}',), (f'{{{_ID}, "s": "c", "n": 2}}', f'{{{_ID}, "s": "a", "n": 2.0}}')),
    Idiom("str Enum", _c("str_enum", plan=Plan), "plan", "columns",
          (f'{{{_ID}, "plan": "pro"}}',), (f'{{{_ID}, "plan": "PRO"}}',)),
    Idiom("IntEnum", _c("int_enum", priority=Priority), "priority", "columns",
          (f'{{{_ID}, "priority": 2}}',), (f'{{{_ID}, "priority": 3}}',)),
    Idiom("datetime / AwareDatetime", _c("datetime", at=AwareDatetime, naive=dt.datetime), "at", "columns",
          (f'{{{_ID}, "at": "2026-01-01T10:00:00+02:00", "naive": "2026-01-01T10:00:00"}}',),
          (f'{{{_ID}, "at": "2026-01-01T10:00:00", "naive": "2026-01-01T10:00:00"}}',)),
    Idiom("date + time", _c("date_time", day=dt.date, clock=dt.time), "day", "columns",
          (f'{{{_ID}, "day": "2026-02-28", "clock": "23:59:59.5"}}',), (f'{{{_ID}, "day": "2026-02-30", "clock": "1"}}',)),
    Idiom("UUID", _c("uuid", message_id=uuid.UUID), "message_id", "columns",
          (f'{{{_ID}, "message_id": "9F0E6B5C-3A1D-4E2B-8C7D-1234567890AB"}}',), (f'{{{_ID}, "message_id": "x"}}',)),
    Idiom("Decimal", _c("decimal", total=decimal.Decimal), "total", "columns",
          (f'{{{_ID}, "total": "27.50"}}', f'{{{_ID}, "total": 19.99}}'), (f'{{{_ID}, "total": "abc"}}',)),
    Idiom("Decimal(max_digits, decimal_places) / condecimal",
          _c("condecimal", total=Annotated[decimal.Decimal, Field(max_digits=6, decimal_places=2)],
             tax=condecimal(ge=0)),
          "total", "columns", (f'{{{_ID}, "total": "1234.50", "tax": 0}}',), (f'{{{_ID}, "total": "1.505", "tax": 0}}',)),
    Idiom("bytes", _c("bytes", blob=bytes), "blob", "columns", (f'{{{_ID}, "blob": "abc"}}',), (f'{{{_ID}, "blob": 1}}',)),
    Idiom("list[str]", _c("list_str", tags=list[str]), "tags", "columns",
          (f'{{{_ID}, "tags": ["a", "b"]}}',), (f'{{{_ID}, "tags": ["a", 1]}}',)),
    Idiom("list[int] with default_factory", _c("list_default", counts=(list[int], Field(default_factory=list))),
          "counts", "columns", (f'{{{_ID}}}', f'{{{_ID}, "counts": [1, 2]}}'), (f'{{{_ID}, "counts": [1.5]}}',)),
    Idiom("a nested model", _c("nested", library=Library), "library", "columns",
          (f'{{{_ID}, "library": {{"name": "analytics.js", "version": "2.11.1"}}}}',),
          (f'{{{_ID}, "library": {{"name": "analytics.js", "version": "2.11"}}}}',)),
    Idiom("an optional nested model", _c("nested_optional", library=(Library | None, None)), "library", "columns",
          (f'{{{_ID}}}', f'{{{_ID}, "library": null}}'), (f'{{{_ID}, "library": {{"name": "x"}}}}',)),
    Idiom("a list of models", _c("list_models", products=Annotated[list[Product], Field(min_length=1)]), "products",
          "columns", (f'{{{_ID}, "products": [{{"sku": "A", "quantity": 1, "price": 9.5}}]}}',),
          (f'{{{_ID}, "products": [{{"sku": "A", "quantity": 0, "price": 9.5}}]}}', f'{{{_ID}, "products": []}}')),
    Idiom("dict[str, str]", _c("dict_str", labels=dict[str, str]), "labels", "columns",
          (f'{{{_ID}, "labels": {{"a": "b"}}}}',), (f'{{{_ID}, "labels": {{"a": 1}}}}',)),
    Idiom("dict[str, Any] (free-form properties)", _c("dict_any", traits=(dict[str, Any], Field(default_factory=dict))),
          "traits", "columns", (f'{{{_ID}, "traits": {{"plan": "pro", "seats": 3, "tags": ["x"]}}}}',),
          (f'{{{_ID}, "traits": []}}',)),
    Idiom("dict[str, T] under the model's str_* config", ConfiguredKeys, "counts", "columns",
          (f'{{{_ID}, "counts": {{" A ": 1, "b": 2}}}}',),
          (f'{{{_ID}, "counts": {{" ": 1}}}}', f'{{{_ID}, "counts": {{"A": 1, "a": 2}}}}')),
    Idiom("alias_generator=to_camel + populate_by_name", CamelCase, "user_id", "columns",
          (f'{{{_ID}, "userId": "u1", "sentAt": "2026-01-01T00:00:00Z"}}',
           f'{{{_ID}, "user_id": "u1", "sentAt": "2026-01-01T00:00:00Z"}}'),
          (f'{{{_ID}, "userId": 1, "sentAt": "2026-01-01T00:00:00Z"}}',)),
    Idiom("Field(alias=...)", Aliased, "user", "columns", (f'{{{_ID}, "userId": "u1"}}',), (f'{{{_ID}, "user": "u1"}}',)),
    Idiom("a tagged union (Literal discriminator)", Tagged, "payment", "columns",
          (f'{{{_ID}, "payment": {{"kind": "card", "last4": "1234"}}}}',
           f'{{{_ID}, "payment": {{"iban": "NL91ABNA0417164300", "kind": "transfer"}}}}'),
          (f'{{{_ID}, "payment": {{"kind": "cash"}}}}', f'{{{_ID}, "payment": {{"kind": "card", "last4": "12"}}}}')),
    Idiom("EmailStr", _c("email", email=EmailStr), "email", "field",
          (f'{{{_ID}, "email": "ada@example.com"}}',), (f'{{{_ID}, "email": "ada"}}',)),
    Idiom("HttpUrl", _c("http_url", url=HttpUrl), "url", "field",
          (f'{{{_ID}, "url": "https://example.com/a"}}',), (f'{{{_ID}, "url": "ftp://example.com"}}',)),
    Idiom("IPvAnyAddress", _c("ip", ip=IPvAnyAddress), "ip", "field",
          (f'{{{_ID}, "ip": "10.0.0.1"}}', f'{{{_ID}, "ip": "::1"}}'), (f'{{{_ID}, "ip": "10.0.0.256"}}',)),
    Idiom("a field_validator", Validated, "sku", "field", (f'{{{_ID}, "sku": "AB"}}',), (f'{{{_ID}, "sku": "ab"}}',)),
    Idiom("a computed_field (on int fields)", Computed, "price", "columns",
          (f'{{{_ID}, "price_cents": 250}}',), (f'{{{_ID}, "price_cents": 2.5}}',)),
    Idiom("a computed_field reading a datetime (not evaluable)", ComputedFromTime, "local_hour", "row",
          (f'{{{_ID}, "at": "2026-01-01T10:00:00+02:00"}}',), (f'{{{_ID}, "at": "noon"}}',)),
    Idiom("a computed_field reading model_fields_set (not evaluable)", ComputedFromFieldsSet, "has_note", "row",
          (f'{{{_ID}}}', f'{{{_ID}, "note": null}}'), (f'{{{_ID}, "note": 1}}',)),
    Idiom("a model_validator", ModelValidated, "start", "row",
          (f'{{{_ID}, "start": 1, "end": 2}}',), (f'{{{_ID}, "start": 2, "end": 1}}',)),
)
"""Each everyday idiom, the route it takes, and events that conform to it and that do not."""


def coverage_rows() -> list[dict[str, str]]:
    """Each idiom with the route the fast path gives it today and why (for ``results.json`` and ``RESULTS.md``)."""
    from contracts.fast import coverage

    rows = []
    for idiom in IDIOMS:
        found = coverage(idiom.contract)
        route = found.route(idiom.field)
        reason = found.per_row if found.per_row is not None else found.routes[idiom.field].reason
        rows.append({"idiom": idiom.name, "route": route, "expected": idiom.route, "reason": reason})
    return rows
