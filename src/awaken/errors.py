"""Every exception awaken raises, in one place.

```
Exception
└── AwakenError                      root of everything awaken raises on purpose
    ├── TerminalError                user: fail now, never retry (carries an HTTP status code)
    │   └── (raised by awaken with codes 404/408/409/410/400 where SPEC says so)
    ├── RetryableError               user: retry this attempt, optionally after `retry_after`
    ├── NotFound                     internal: unknown service / handler / invocation / awakeable
    ├── Conflict                     internal: a second, different completion
    │   └── Fenced                   internal: a write of an attempt that lost its invocation
    ├── Gone                         internal: awakeable expired, or its invocation ended
    ├── BadRequest                   internal: malformed id, duration, body
    ├── NonDeterminismError          internal: replay took another path than the journal
    └── StorageError                 internal: the store is unreachable or failed

BaseException
└── InvocationControl                control flow user code must not swallow
    └── Suspended                    the invocation is parked; it resumes by replay
```

The ingress maps these to HTTP in one table (`awaken.ingress.errors`).
"""

from __future__ import annotations

from datetime import timedelta


class AwakenError(Exception):
    """Root of the exceptions awaken raises on purpose."""


class TerminalError(AwakenError):
    """A failure that must not be retried. The invocation ends with `status_code`."""

    def __init__(self, message: str, status_code: int = 500, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.metadata = metadata


class RetryableError(AwakenError):
    """A failure to retry, optionally after an explicit delay."""

    def __init__(self, message: str, status_code: int = 500, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after


class NotFound(AwakenError):
    """Unknown service, handler, invocation or awakeable (404)."""


class Conflict(AwakenError):
    """A conflicting write: a different second completion, or a fenced journal append (409)."""


class Fenced(Conflict):
    """A write of an attempt whose invocation has moved on: another attempt (on this node or
    another) owns it now, or it was paused or killed. The attempt stops and is not retried."""


class Gone(AwakenError):
    """The target exists but can no longer be completed (410)."""


class BadRequest(AwakenError):
    """Malformed input: an id, a duration, a body (400)."""

    def __init__(self, message: str, details: list[object] | None = None) -> None:
        super().__init__(message)
        self.details = details


class NonDeterminismError(AwakenError):
    """Replay took another path than the one recorded in the journal."""


class StorageError(AwakenError):
    """The store failed or is unreachable (503)."""


class InvocationControl(BaseException):
    """Control flow that user code must not swallow (derives from BaseException)."""


class Suspended(InvocationControl):
    """Raised at an await point when the invocation is parked. Do not catch it."""

    def __init__(self) -> None:
        super().__init__(
            "the invocation is suspended; it will resume by replay when what it awaits completes"
        )


def is_internal_exception(exc: BaseException) -> bool:
    """True for awaken's control-flow exceptions, which handlers must re-raise."""
    return isinstance(exc, InvocationControl)
