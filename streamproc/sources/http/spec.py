"""Segment's Spec as contract building blocks: the common fields and each call's fields, to mix into contracts.

Mix a call's fields into a contract and type what you care about; free-form objects (``context``, ``properties``,
``traits``, ``integrations``) land as JSON text unless you declare them as models::

    from pydantic import BaseModel
    from contracts import Contract
    from streamproc.sources.http.spec import IdentifyFields, TrackFields

    class OrderProperties(BaseModel):
        order_id: str
        revenue: float
        currency: str

    class OrderCompleted(TrackFields, Contract, name="order_completed", version=1):
        properties: OrderProperties

    class Identify(IdentifyFields, Contract, name="identifies", version=1):
        pass

:class:`SegmentEvent` is a ready-made catch-all contract for every call type (``columns: discard_value``: an
undeclared key is cut and kept in quarantine, the event still lands).

Source: Segment Spec, "Common fields" and the Track, Identify, Page, Screen, Group and Alias calls.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator

from contracts import Contract

__all__ = [
    "AliasFields",
    "GroupFields",
    "IdentifyFields",
    "JsonText",
    "PageFields",
    "ScreenFields",
    "SegmentEvent",
    "SegmentFields",
    "TrackFields",
    "segment_call",
]


def _as_json_text(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return value


JsonText = Annotated[str, BeforeValidator(_as_json_text)]
"""A free-form JSON object or array, landed as its compact JSON text (a ``string`` column)."""


class SegmentFields(BaseModel):
    """The common fields of every call (the HTTP source fills ``messageId``, ``receivedAt`` and ``timestamp``)."""

    messageId: str
    type: str
    userId: str | None = None
    anonymousId: str | None = None
    timestamp: AwareDatetime
    originalTimestamp: AwareDatetime | None = None
    sentAt: AwareDatetime | None = None
    receivedAt: AwareDatetime
    context: JsonText | None = None
    integrations: JsonText | None = None


class TrackFields(SegmentFields):
    """A ``track`` call: what the user did."""

    event: str
    properties: JsonText | None = None


class IdentifyFields(SegmentFields):
    """An ``identify`` call: who the user is."""

    traits: JsonText | None = None


class PageFields(SegmentFields):
    """A ``page`` call: a web page the user saw."""

    name: str | None = None
    category: str | None = None
    properties: JsonText | None = None


class ScreenFields(PageFields):
    """A ``screen`` call: an app screen the user saw."""


class GroupFields(SegmentFields):
    """A ``group`` call: the account or company the user belongs to."""

    groupId: str
    traits: JsonText | None = None


class AliasFields(SegmentFields):
    """An ``alias`` call: a new id for the user."""

    previousId: str


class SegmentEvent(SegmentFields, Contract, name="segment_events", version=1, mode={"columns": "discard_value"}):
    """Any Segment call, with the call-specific fields all optional and free-form objects as JSON text."""

    event: str | None = None
    name: str | None = None
    category: str | None = None
    properties: JsonText | None = None
    traits: JsonText | None = None
    groupId: str | None = None
    previousId: str | None = None


_CALLS: tuple[tuple[type[SegmentFields], str], ...] = (
    (ScreenFields, "screen"),  # before PageFields: a screen's fields are a page's
    (PageFields, "page"),
    (TrackFields, "track"),
    (IdentifyFields, "identify"),
    (GroupFields, "group"),
    (AliasFields, "alias"),
)


def segment_call(model: type) -> str | None:
    """The Segment call a contract's events are: ``"track"`` for a :class:`TrackFields` contract, ..., ``"any"``
    for :class:`SegmentFields` alone or :class:`SegmentEvent` (each event names its ``type``), ``None`` for a
    contract that is not Segment's."""
    if not (isinstance(model, type) and issubclass(model, SegmentFields)):
        return None
    return next((call for fields, call in _CALLS if issubclass(model, fields)), "any")
