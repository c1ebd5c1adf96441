"""The contracts docs/http-source.md's example routes Segment calls to (``web_contracts:Identify`` ...): what a
user's own module would hold, so that the example config loads with its contracts."""

from __future__ import annotations

from pydantic import BaseModel

from contracts import Contract
from streamproc.sources.http.spec import IdentifyFields, PageFields, TrackFields


class Identify(IdentifyFields, Contract, name="identifies", version=1):
    pass


class Page(PageFields, Contract, name="pages", version=1):
    pass


class Track(TrackFields, Contract, name="tracks", version=1):
    pass


class OrderProperties(BaseModel):
    order_id: str
    revenue: float
    currency: str


class OrderCompleted(TrackFields, Contract, name="order_completed", version=1):
    properties: OrderProperties
