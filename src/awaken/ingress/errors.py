"""The one table from exceptions to HTTP statuses, and Restate's error body."""

from __future__ import annotations

import json
from typing import Any, Literal

from awaken.errors import BadRequest, Conflict, Gone, NotFound, StorageError, TerminalError

Source = Literal["ingress", "invocation"]

STATUS_BY_ERROR: tuple[tuple[type[Exception], int], ...] = (
    (BadRequest, 400),
    (NotFound, 404),
    (Conflict, 409),
    (Gone, 410),
    (StorageError, 503),
)


class HttpError(Exception):
    """An error answer of the ingress itself (bad path, method, size, content type...)."""

    def __init__(
        self,
        status: int,
        message: str,
        extra: dict[str, Any] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or []  # of the answer: `allow` with a 405


def method_not_allowed(method: str, *allowed: str) -> HttpError:
    """405, with the `allow` header RFC 9110 asks for."""
    return HttpError(
        405,
        f"method {method} not allowed, use {' or '.join(allowed)}",
        headers=[(b"allow", ", ".join(allowed).encode())],
    )


def status_for(exc: Exception) -> int:
    if isinstance(exc, HttpError):
        return exc.status
    if isinstance(exc, TerminalError):
        return exc.status_code if 100 <= exc.status_code <= 599 else 500
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(status: int, message: str, source: Source, extra: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"code": status, "message": message, "source": source}
    if extra:
        body.update(extra)
    return json.dumps(body).encode()


def body_for(exc: Exception) -> tuple[int, bytes]:
    status = status_for(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, HttpError):
        extra = exc.extra
    elif isinstance(exc, BadRequest) and exc.details:
        extra = {"errors": exc.details}
    message = exc.message if isinstance(exc, HttpError | TerminalError) else str(exc)
    if status == 500 and not isinstance(exc, HttpError | TerminalError):
        message = f"internal error: {type(exc).__name__}: {exc}"
    return status, error_body(status, message, "ingress", extra)
