"""The HTTP source's endpoint (a Starlette app): Segment's Tracking API and generic JSON / NDJSON ingestion.

================================ =======================================================================================
``POST /v1/batch``               Segment batch: ``{"batch": [...], "context"?, "sentAt"?, "writeKey"?}``, up to
                                 ``max_batch_bytes`` (500 KB) and ``max_event_bytes`` (32 KB) per message
``POST /v1/{track,identify,...}`` one Segment call, up to ``max_event_bytes``
``POST /ingest/{contract}``      a JSON object, a JSON array of objects, or NDJSON (``Content-Type:
                                 application/x-ndjson``), up to ``max_ingest_bytes``; ``{contract}`` is a target's
                                 table or contract name; to a Segment-spec contract, each event is completed as the
                                 Tracking API completes it (``type``, ``messageId``, ``receivedAt``, ``timestamp``)
================================ =======================================================================================

Every request: the write key as the user of HTTP basic auth (Segment's convention; ``Bearer <key>`` also works; for
Segment calls also ``writeKey`` in the body), compared in constant time; the body may be gzip
(``Content-Encoding: gzip``; limits apply to the uncompressed bytes). ``200 {"success": true}`` is sent only once
every event of the request is durable (see :mod:`streamproc.sources.http.front`); errors are JSON
(:mod:`streamproc.sources.http.errors`) with ``Retry-After`` on ``429``/``503``. Requests are counted in
``streamproc_http_requests_total`` by route template and status.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import ipaddress
import json
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from streamproc.sources.http import metrics
from streamproc.config import SEGMENT_CALL_TYPES, HttpSourceConfig
from streamproc.sources.http.errors import (
    BadRequestError,
    IngestError,
    PayloadTooLargeError,
    UnauthorizedError,
    UnknownContractError,
)
from streamproc.sources.http.front import Event, Front
from streamproc.sources.http.segment import encode_event, ingest_events, segment_events
from streamproc.sources.http.spec import segment_call
from streamproc.sources.http.targets import Router

__all__ = ["WriteKeys", "create_ingest_app", "parse_ingest_body"]

logger = logging.getLogger(__name__)

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"})
_GZIP = frozenset({"gzip", "x-gzip"})


class WriteKeys:
    """The source's write keys, checked in constant time (:func:`hmac.compare_digest` against every key)."""

    def __init__(self, keys: tuple[SecretStr, ...], *, required: bool) -> None:
        self._keys = [k.get_secret_value().encode() for k in keys]
        self.required = required

    def check(self, candidate: str | None) -> None:
        """Raises:
        UnauthorizedError: the key is missing or not one of the source's."""
        if not self.required:
            return
        if not candidate:
            raise UnauthorizedError(
                "missing write key: send it as the user of HTTP basic auth (or as writeKey in a Segment body)",
                code="missing_write_key",
            )
        given = candidate.encode()
        matched = False
        for key in self._keys:  # no early exit: the time taken does not say which key came close
            matched |= hmac.compare_digest(key, given)
        if not matched:
            raise UnauthorizedError("invalid write key", code="invalid_write_key")


def _header_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        user, _, _ = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise UnauthorizedError("malformed basic auth header", code="invalid_write_key") from None
    return user or None


async def _read_body(request: Request, *, limit: int) -> bytes:
    """The request body, gunzipped if sent so, refused past ``limit`` uncompressed bytes."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in _GZIP and encoding != "identity":
        raise BadRequestError(f"unsupported Content-Encoding {encoding!r}: send gzip or none", code="invalid_encoding")
    declared = request.headers.get("content-length", "")
    too_large = PayloadTooLargeError(f"the body is over the {limit:,}-byte limit", code="payload_too_large")
    if encoding == "identity" and declared.isdigit() and int(declared) > limit:
        raise too_large
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in _GZIP else None
    body = bytearray()
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + 65_536:  # gzip can make incompressible bytes a little bigger, not much
                raise too_large
            body += inflater.decompress(chunk, limit + 1 - len(body)) if inflater is not None else chunk
            if len(body) > limit or (inflater is not None and inflater.unconsumed_tail):
                raise too_large
        if inflater is not None:
            body += inflater.flush()
            if not inflater.eof:
                raise BadRequestError("the gzip body is cut short", code="invalid_encoding")
    except zlib.error as exc:
        raise BadRequestError(f"the body is not valid gzip: {exc}", code="invalid_encoding") from None
    if len(body) > limit:
        raise too_large
    return bytes(body)


def _loads(data: bytes, where: str = "the body") -> Any:
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"{where} is not UTF-8: {exc}", code="invalid_json") from None
    except json.JSONDecodeError as exc:
        raise BadRequestError(f"{where} is not valid JSON: {exc}", code="invalid_json") from None


def parse_ingest_body(body: bytes, *, content_type: str) -> list[bytes]:
    """The events of an ``/ingest`` body, each as JSON bytes: NDJSON lines as sent, array elements re-encoded.

    Raises:
        BadRequestError: malformed JSON (naming the line for NDJSON), an event that is not an object, no events.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    payloads: list[bytes] = []
    if media_type in NDJSON_TYPES:
        for number, line in enumerate(body.split(b"\n"), start=1):
            line = line.strip()
            if not line:
                continue
            if not isinstance(_loads(line, f"line {number}"), dict):
                raise BadRequestError(f"line {number} is not a JSON object", code="invalid_body")
            payloads.append(line)
    else:
        try:
            document = _loads(body)
        except BadRequestError as exc:
            if _holds_more_than_one_value(body):  # NDJSON sent as JSON (curl -d sends a form's content type)
                raise BadRequestError(
                    f"{exc.message}; for NDJSON (one event per line) send Content-Type: application/x-ndjson",
                    code="invalid_json",
                ) from None
            raise
        if isinstance(document, dict):
            payloads.append(body.strip())
        elif isinstance(document, list):
            for index, item in enumerate(document):
                if not isinstance(item, dict):
                    raise BadRequestError(f"element {index} is not a JSON object", code="invalid_body")
                payloads.append(encode_event(item))
        else:
            raise BadRequestError("the body must be a JSON object, an array of objects or NDJSON", code="invalid_body")
    if not payloads:
        raise BadRequestError("the body holds no events", code="invalid_body")
    return payloads


def _loopback(host: str) -> bool:
    """Whether ``host`` (an interface to listen on) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _holds_more_than_one_value(body: bytes) -> bool:
    """Whether ``body`` is one valid JSON value followed by more (JSON's "Extra data"), as NDJSON of two lines is."""
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        return exc.msg == "Extra data"
    except UnicodeDecodeError:
        return False
    return False


def _segment_key(event: dict[str, Any]) -> bytes | None:
    """The Kafka key of a Segment event: its user (``userId``, else ``anonymousId``), so a user's events stay in
    order on one partition."""
    user = event.get("userId") or event.get("anonymousId")
    return str(user).encode() if user is not None else None


def create_ingest_app(front: Front, router: Router, config: HttpSourceConfig) -> Starlette:
    """The ASGI app (see the module docstring)."""
    keys = WriteKeys(config.write_keys, required=config.require_write_key)
    if not config.require_write_key and not _loopback(config.host):
        logger.warning(
            "the HTTP source on %s:%d accepts events without a write key from anyone who reaches it: set write_keys, "
            "or host: 127.0.0.1 (or guard the port with a network policy)", config.host, config.port,
        )

    def endpoint(template: str, handle: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
        async def respond(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handle(request)
            except IngestError as exc:
                response = JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers())
            except Exception:
                logger.exception("%s failed", template)
                response = JSONResponse(
                    {"success": False, "code": "internal_error", "message": "internal error; retry later"},
                    status_code=500,
                )
            metrics.HTTP_REQUESTS.labels(template, request.method, str(response.status_code)).inc()
            metrics.HTTP_REQUEST_DURATION.labels(template, request.method).observe(time.perf_counter() - started)
            return response

        return respond

    def segment(call_type: str | None) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            received_at = dt.datetime.now(dt.UTC)
            header_key = _header_key(request)
            if header_key is not None:
                keys.check(header_key)
            limit = config.max_batch_bytes if call_type is None else config.max_event_bytes
            document = _loads(await _read_body(request, limit=limit))
            if header_key is None:
                body_key = document.get("writeKey") if isinstance(document, dict) else None
                keys.check(body_key if isinstance(body_key, str) else None)
            events = segment_events(
                document, call_type=call_type, received_at=received_at, max_event_bytes=config.max_event_bytes
            )
            await front.accept([Event(router.for_segment(e), encode_event(e), _segment_key(e)) for e in events])
            return JSONResponse({"success": True})

        return handle

    async def ingest(request: Request) -> Response:
        received_at = dt.datetime.now(dt.UTC)
        keys.check(_header_key(request))
        name = request.path_params["contract"]
        target = router.for_ingest(name)
        if target is None:
            raise UnknownContractError(
                f"no contract {name!r} here; known: {', '.join(sorted(router.targets))}", code="unknown_contract"
            )
        body = await _read_body(request, limit=config.max_ingest_bytes)
        content_type = request.headers.get("content-type", "application/json")
        call = segment_call(target.contract)

        def parse() -> list[Event]:
            payloads = parse_ingest_body(body, content_type=content_type)
            if call is None:
                return [Event(target, p) for p in payloads]
            # Segment's fields are the server's to fill, as on /v1/*: sent as is, every event would be quarantined.
            events = ingest_events([json.loads(p) for p in payloads], call_type=call, contract=name,
                                   received_at=received_at)
            return [Event(target, encode_event(e), _segment_key(e)) for e in events]

        accepted = await anyio.to_thread.run_sync(parse)
        offsets = await front.accept(accepted)
        span = offsets.get(target.name)
        answer: dict[str, Any] = {"success": True, "accepted": len(accepted), "table": target.name}
        if span is not None:
            answer["offsets"] = {"partition": config.partition, "first": span[0], "last": span[1]}
        return JSONResponse(answer)

    routes = [Route("/v1/batch", endpoint("/v1/batch", segment(None)), methods=["POST"])]
    routes += [
        Route(f"/v1/{kind}", endpoint(f"/v1/{kind}", segment(kind)), methods=["POST"]) for kind in SEGMENT_CALL_TYPES
    ]
    routes.append(Route("/ingest/{contract}", endpoint("/ingest/{contract}", ingest), methods=["POST"]))
    return Starlette(routes=routes, exception_handlers={HTTPException: _not_served})


async def _not_served(request: Request, exc: Exception) -> Response:
    """A path or method this endpoint does not serve (Starlette's 404 and 405), answered in the errors' JSON shape
    with the endpoints it does serve: a client pointed at the wrong path learns the right one."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = exc.headers if isinstance(exc, HTTPException) else None
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    message = (
        f"this source does not serve {request.method} {request.url.path}: it serves POST /v1/batch, "
        f"POST /v1/{{{','.join(SEGMENT_CALL_TYPES)}}} and POST /ingest/{{contract}}"
    )
    return JSONResponse({"success": False, "code": code, "message": message}, status_code=status, headers=headers)
