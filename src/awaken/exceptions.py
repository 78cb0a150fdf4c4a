"""restate-sdk's `restate.exceptions`, under its names (`from awaken.exceptions import TerminalError`).

The classes are awaken's own (see `awaken.errors` for the whole hierarchy): `SdkInternalBaseException`
is awaken's `InvocationControl`, the root of the control flow handlers must not swallow, and
`SuspendedException` is `Suspended`.
"""

from __future__ import annotations

from awaken.errors import InvocationControl as SdkInternalBaseException
from awaken.errors import RetryableError, TerminalError
from awaken.errors import Suspended as SuspendedException
from awaken.errors import is_internal_exception as _is_internal


class SdkInternalException(SdkInternalBaseException):
    """restate-sdk raises this to end an attempt that failed in a retryable way. awaken ends such an
    attempt without raising into the handler, so it never raises this; it exists for `except`
    clauses and `isinstance` checks written for restate-sdk."""

    def __init__(self) -> None:
        super().__init__(
            "the invocation attempt failed in a retryable way; it is retried from where it left off"
        )


def is_internal_exception(e: BaseException) -> bool:
    """True for awaken's control-flow exceptions, which handlers must re-raise."""
    return _is_internal(e)


__all__ = [
    "RetryableError",
    "SdkInternalBaseException",
    "SdkInternalException",
    "SuspendedException",
    "TerminalError",
    "is_internal_exception",
]
