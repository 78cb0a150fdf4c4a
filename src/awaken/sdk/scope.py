"""Scopes and limit keys (restate-sdk 1.x `ctx.scope()`, `scope=` / `limit_key=`).

A scope is part of a target's identity: an idempotent call to a service in scope "a" and the same
call in scope "b" are two invocations. awaken supports scopes for plain services only: the state
of virtual objects and workflows is not partitioned by scope, so a scoped call to one of them is
refused (never silently mixed with the unscoped instance). Limit keys are accepted and validated;
awaken enforces no concurrency limits with them.
"""

from __future__ import annotations

import re

from awaken.core.ids import InvocationId, idempotent_invocation_id

_SCOPE = re.compile(r"[a-zA-Z0-9_.-]{1,36}")


def check_scope(scope: str) -> None:
    """ValueError unless `scope` is 1 to 36 characters of [a-zA-Z0-9_.-]."""
    if not isinstance(scope, str) or _SCOPE.fullmatch(scope) is None:
        raise ValueError(f"bad scope {scope!r}: expected 1 to 36 characters of [a-zA-Z0-9_.-]")


def check_limit_key(limit_key: str, scope: str | None) -> None:
    """ValueError unless `limit_key` is one or two `/`-separated levels like a scope, with a scope."""
    if scope is None:
        raise ValueError("a limit key needs a scope")
    levels = limit_key.split("/") if isinstance(limit_key, str) else [""]
    if len(levels) > 2 or any(_SCOPE.fullmatch(level) is None for level in levels):
        raise ValueError(
            f"bad limit key {limit_key!r}: expected one or two '/'-separated levels of 1 to 36 "
            "characters of [a-zA-Z0-9_.-]"
        )


def scoped_idempotent_id(
    scope: str | None, service: str, key: str | None, handler: str, idempotency_key: str
) -> str:
    if scope is None:
        return idempotent_invocation_id(service, key, handler, idempotency_key)
    return str(InvocationId.deterministic("iks", scope, service, key or "", handler, idempotency_key))
