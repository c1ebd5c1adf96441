"""The times the commands' ``--since`` / ``--until`` take, one way for every command."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import click

__all__ = ["When"]

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class When(click.ParamType):
    """A time: ISO 8601 (``2026-11-21``, ``2026-11-21T09:30``, with an offset or UTC), or a duration back from now
    (``30m``, ``6h``, ``7d``)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        duration = _DURATION.match(text)
        if duration:
            return dt.datetime.now(dt.UTC) - dt.timedelta(**{_UNITS[duration.group(2)]: int(duration.group(1))})
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is neither an ISO time (2026-11-21T09:30) nor a duration back from now (6h, 7d)")
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
