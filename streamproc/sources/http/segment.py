"""Segment's HTTP Tracking API: turning a request body into events as Segment's own API would store them.

Source: Segment's HTTP Tracking API and Spec ("Common fields", "Timestamps"):

- ``/v1/batch`` takes ``{"batch": [message, ...], "context"?, "integrations"?, "sentAt"?, "writeKey"?}``; each
  message has a ``type`` (track, identify, page, screen, group, alias). The batch's ``context`` and ``integrations``
  are defaults for each message (a message's own keys win), and so is its ``sentAt``.
- ``/v1/<type>`` takes one message; its ``type`` is the endpoint's (a different ``type`` in the body is an error).
- ``messageId`` is kept, or generated (``api-<uuid4>``) when missing: it is what deduplicates retries downstream.
- ``receivedAt`` is the server's clock when the request arrived; ``originalTimestamp`` is the client's
  ``timestamp`` as sent; ``timestamp`` is corrected for the client's clock skew:
  ``receivedAt - (sentAt - originalTimestamp)`` when the client sent both, else the client's ``timestamp``, else
  ``receivedAt``.
- ``userId``, ``anonymousId``, ``groupId`` and ``previousId`` sent as numbers become strings, as Segment does.
- ``writeKey`` is a credential: it is removed from every event and never lands.

``POST /ingest/{contract}`` to a Segment-spec contract (:func:`streamproc.sources.http.spec.segment_call`) completes
its events the same way (:func:`ingest_events`): the contract says the call type, or each event does.

Each event then goes to the contract of its route: ``track:<event name>``, else its ``type``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from streamproc.config import SEGMENT_CALL_TYPES
from streamproc.sources.http.errors import BadRequestError, PayloadTooLargeError

__all__ = ["encode_event", "format_time", "ingest_events", "route_key", "segment_events"]

_ID_FIELDS = ("userId", "anonymousId", "groupId", "previousId")


def format_time(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as Segment writes its timestamps."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def encode_event(event: dict[str, Any]) -> bytes:
    """The event's JSON bytes as logged and landed (compact, UTF-8)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def segment_events(
    body: Any, *, call_type: str | None, received_at: dt.datetime, max_event_bytes: int
) -> list[dict[str, Any]]:
    """The events of one Tracking API request, completed as Segment does (see the module docstring).

    Args:
        body: the parsed JSON body.
        call_type: the endpoint's type (``track`` for ``/v1/track``), or ``None`` for ``/v1/batch``.
        received_at: when the request arrived (the events' ``receivedAt``).
        max_event_bytes: Segment's per-event limit (32 KB), checked on each message as sent.

    Raises:
        BadRequestError: the body is not an object, ``batch`` is not a list of objects, a message has no known
            ``type`` or one that contradicts the endpoint.
        PayloadTooLargeError: a message of a batch is over ``max_event_bytes``.
    """
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object", code="invalid_body")
    defaults = {k: body[k] for k in ("context", "integrations", "sentAt") if k in body}
    if call_type is None:
        messages = body.get("batch")
        if not isinstance(messages, list):
            raise BadRequestError("a batch request needs a 'batch' list of messages", code="invalid_body")
    else:
        messages, defaults = [body], {}
    events: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"batch[{index}]" if call_type is None else "the message"
        if not isinstance(message, dict):
            raise BadRequestError(f"{where} is not a JSON object", code="invalid_body")
        if call_type is None and len(encode_event(message)) > max_event_bytes:
            raise PayloadTooLargeError(
                f"{where} is over the {max_event_bytes:,}-byte limit per event", code="event_too_large"
            )
        kind = _call_type(message, call_type, where=where, sent_to=f"/v1/{call_type}")
        events.append(_complete(message, kind, defaults, received_at))
    return events


def ingest_events(
    documents: list[dict[str, Any]], *, call_type: str, contract: str, received_at: dt.datetime
) -> list[dict[str, Any]]:
    """The events of a ``POST /ingest/{contract}`` request to a Segment-spec contract, completed as the Tracking API
    completes them (``type``, ``messageId``, ``receivedAt``, ``timestamp``; ids as strings; no ``writeKey``).

    Args:
        documents: the request's events (JSON objects).
        call_type: the contract's call (``track``, ...), or ``"any"``: each event names its ``type``.
        contract: the path's contract, for the error message.
        received_at: when the request arrived.

    Raises:
        BadRequestError: an event has no call type (``"any"``), an unknown one, or another than the contract's.
    """
    expected = None if call_type == "any" else call_type
    return [
        _complete(document, _call_type(document, expected, where=f"event {index}", sent_to=f"contract {contract!r} "
                                       f"(it takes {expected} calls)"), {}, received_at)
        for index, document in enumerate(documents)
    ]


def _call_type(message: dict[str, Any], expected: str | None, *, where: str, sent_to: str) -> str:
    """The message's call type: its ``type``, else ``expected``.

    Raises:
        BadRequestError: none, an unknown one, or one other than ``expected``.
    """
    kind = message.get("type", expected)
    if expected is not None and kind != expected:
        raise BadRequestError(f"{where} has type {kind!r} but was sent to {sent_to}", code="invalid_type")
    if kind not in SEGMENT_CALL_TYPES:
        named = "no 'type'" if kind is None else f"type {kind!r}"
        raise BadRequestError(
            f"{where} has {named}; expected one of {', '.join(SEGMENT_CALL_TYPES)}", code="invalid_type"
        )
    return str(kind)


def _complete(
    message: dict[str, Any], kind: str, defaults: dict[str, Any], received_at: dt.datetime
) -> dict[str, Any]:
    event = {k: v for k, v in message.items() if k != "writeKey"}
    event["type"] = kind
    for key in ("context", "integrations"):
        base, own = defaults.get(key), event.get(key)
        if isinstance(base, dict):
            event[key] = {**base, **own} if isinstance(own, dict) else own if key in event else base
    if "sentAt" not in event and "sentAt" in defaults:
        event["sentAt"] = defaults["sentAt"]
    for key in _ID_FIELDS:
        value = event.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            event[key] = str(value)
    if not event.get("messageId"):
        event["messageId"] = f"api-{uuid.uuid4()}"
    event["receivedAt"] = format_time(received_at)
    sent = event.get("timestamp")
    if sent is not None and "originalTimestamp" not in event:
        event["originalTimestamp"] = sent
    original, sent_at = _parse_time(event.get("originalTimestamp")), _parse_time(event.get("sentAt"))
    if original is not None and sent_at is not None:
        event["timestamp"] = format_time(received_at - (sent_at - original))
    elif sent is None:
        event["timestamp"] = event["receivedAt"]
    return event


def route_key(event: dict[str, Any]) -> tuple[str, str]:
    """The routes an event may take, most specific first: ``("track:<event>", "track")`` or ``(type, type)``."""
    kind = event["type"]
    name = event.get("event")
    if kind == "track" and isinstance(name, str):
        return f"track:{name}", kind
    return kind, kind
