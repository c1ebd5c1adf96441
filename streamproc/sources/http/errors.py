"""Errors of the HTTP source's endpoint: each is one HTTP status and a JSON body, split by what the client does next.

```
IngestError                      root: a request was not accepted; nothing of it was made durable
├── BadRequestError         400  malformed JSON or gzip, a body of the wrong shape (fix the request)
├── UnauthorizedError       401  missing or unknown write key (fix the credentials)
├── UnknownContractError    404  /ingest/{contract} names no contract of this source
├── PayloadTooLargeError    413  an event or a body over its limit (split it)
├── ContractViolationError  422  events break a ``freeze`` contract; ``details`` lists every violation
└── RetryLaterError              retry after ``retry_after`` seconds, unchanged
    ├── BackpressureError   429  the write-ahead log's backlog is full (landing is behind)
    └── UnavailableError    503  not ready yet, stopping, or the disk / Kafka refused the write
```

The body of an error response is ``{"success": false, "code": ..., "message": ..., "errors": [...]}``: Segment's
libraries read ``code`` and ``message``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from streamproc.errors import StreamprocError

__all__ = [
    "BackpressureError",
    "BadRequestError",
    "ContractViolationError",
    "IngestError",
    "PayloadTooLargeError",
    "RetryLaterError",
    "UnauthorizedError",
    "UnavailableError",
    "UnknownContractError",
]


class IngestError(StreamprocError):
    """A request the endpoint refused; nothing of it was made durable.

    Attributes:
        status: the HTTP status code.
        code: a stable machine-readable code (``invalid_json``, ``payload_too_large``, ...).
        details: evidence, e.g. one entry per violating event.
    """

    status: ClassVar[int] = 500

    def __init__(self, message: str, *, code: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or []

    def body(self) -> dict[str, Any]:
        """The JSON response body."""
        body: dict[str, Any] = {"success": False, "code": self.code, "message": self.message}
        if self.details:
            body["errors"] = self.details
        return body

    def headers(self) -> dict[str, str]:
        return {}


class BadRequestError(IngestError):
    status = 400


class UnauthorizedError(IngestError):
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="streamproc"'}


class UnknownContractError(IngestError):
    status = 404


class PayloadTooLargeError(IngestError):
    status = 413


class ContractViolationError(IngestError):
    status = 422


class RetryLaterError(IngestError):
    """Retry the same request after :attr:`retry_after` seconds (sent as ``Retry-After``)."""

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class BackpressureError(RetryLaterError):
    status = 429


class UnavailableError(RetryLaterError):
    status = 503
