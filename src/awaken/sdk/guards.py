"""What turns a handler's mistake into a clear, final failure instead of a retry loop: context
attributes that do not exist, context methods called with arguments they do not take, and (in
the restate-compatible test harness) a non-deterministic replay. Also the checks of scopes and
limit keys on outgoing calls, and the journal data of `entry_name=`."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from awaken.errors import InvocationControl, TerminalError
from awaken.sdk.scope import check_limit_key, check_scope

# Set by the test harness's always-replay mode: a non-deterministic replay then ends the
# invocation at once (code 570, Restate's journal-mismatch code) instead of being retried, so
# that the test sees it fail.
strict_determinism: ContextVar[bool] = ContextVar("awaken_strict_determinism", default=False)
# Set with it when the harness always replays: a handler that completes is run once more against
# its whole journal (as Restate replays it after every step), so that a path that depends on
# something not journaled is caught even where nothing made it suspend.
replay_on_completion: ContextVar[bool] = ContextVar("awaken_replay_on_completion", default=False)

JOURNAL_MISMATCH = 570


class NonDeterminismDetected(InvocationControl):
    """A replay diverged while determinism is strict: ends the invocation (user code must not
    catch it, hence a BaseException)."""


class ContextAttributeError(AttributeError):
    """A handler asked the context for something it does not have (a restate-sdk method awaken
    lacks, a typo): a programming error that no retry can fix."""


# Qualified names whose TypeErrors ("X.get() got an unexpected keyword argument") are misuse of
# the context API by the handler, not a failure that a retry could fix. A TypeError names the class
# that defines the method: the context's own and the parts it is made of (sdk/calls.py, sdk/state.py,
# sdk/journal_context.py).
_CONTEXT_CLASSES = (
    "InvocationContext.",
    "CallActions.",
    "StateActions.",
    "JournalContext.",
    "ScopedContextImpl.",
    "DurablePromiseImpl.",
)


def missing_attribute(name: str) -> AttributeError:
    if name.startswith("__"):
        return AttributeError(name)
    return ContextAttributeError(
        f"the awaken context has no attribute {name!r}. This is a "
        "programming error: the invocation fails instead of being retried"
    )


def is_context_misuse(exc: BaseException) -> bool:
    if isinstance(exc, ContextAttributeError):
        return True
    return isinstance(exc, TypeError) and str(exc).startswith(_CONTEXT_CLASSES)


def check_scoping(service: str, key: str | None, scope: str | None, limit_key: str | None) -> None:
    """TerminalError(400) for a bad scope or limit key, or a scoped call to a keyed target."""
    try:
        if scope is not None:
            check_scope(scope)
            if key is not None:
                raise ValueError(
                    f"scoped calls to virtual objects and workflows ({service}) are not supported by "
                    "awaken: their state is not partitioned by scope"
                )
        if limit_key is not None:
            check_limit_key(limit_key, scope)
    except ValueError as exc:
        raise TerminalError(str(exc), 400) from None


def entry_name_data(entry_name: str | None) -> dict[str, Any] | None:
    """The journal data of an `entry_name=` (shown by the admin API; never matched on replay)."""
    return {"entry_name": entry_name} if entry_name else None
