"""awaken's restate-sdk surface against the pinned restate-sdk itself (installed by the test
extras): every public module, class, function and method of restate-sdk exists in awaken under
the same name, with compatible parameters (same names, same positions, same defaults), so that
`import awaken as restate` keeps working and a drift of either side fails here.

Deliberate differences are listed below, each with its reason; nothing else may differ.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import restate

# restate-sdk module -> the awaken module that stands for it
MODULES = {
    "restate": "awaken",
    "restate.asyncio": "awaken.asyncio",
    "restate.client": "awaken.client",
    "restate.client_types": "awaken.client_types",
    "restate.context": "awaken.context",
    "restate.exceptions": "awaken.exceptions",
    "restate.logging": "awaken.logging",
    "restate.object": "awaken.object",
    "restate.retry_policy": "awaken.retry_policy",
    "restate.serde": "awaken.serde",
    "restate.service": "awaken.service",
    "restate.types": "awaken.types",
    "restate.workflow": "awaken.workflow",
}

# Names restate-sdk has and awaken deliberately does not (docs/compatibility.md lists them too).
MISSING = {
    # journal value codecs (encryption/compression of journal values): not supported; awaken
    # refuses a codec instead of ignoring it
    "restate.JournalValueCodec",
    "restate.JournalValueCodecProvider",
    # Restate Cloud's outbound tunnel: awaken serves its own ingress, there is nothing to dial
    "restate.connect",
    "restate.with_connection",
    "restate.ConnectError",
    # restate-sdk's ingress client classes and helper: create_client's client is
    # awaken.client.IngressClient (see DIFFERENT for awaken.client.Client)
    "restate.client.ScopedClient",
    "restate.client.resolve_ingress",
    # restate-sdk's optional-import plumbing, not an API
    "restate.serde.DaciteFromDict",
    "restate.serde.DaciteToDict",
    "restate.serde.MsgspecJsonAPI",
    "restate.serde.try_import_from_dacite",
    "restate.serde.try_import_msgspec_api",
    "restate.serde.try_import_pydantic_base_model",
}

# Names awaken has with another meaning: not compared.
DIFFERENT = {
    # awaken.client.Client is awaken's own synchronous client (SPEC §1.2), older than this
    # compatibility layer; restate-sdk's class of that name is what create_client yields, which
    # is awaken.client.IngressClient here (same methods, compared through RestateClient)
    "restate.client.Client",
}

CONTEXT_CLASSES = {
    "Context",
    "ObjectContext",
    "ObjectSharedContext",
    "WorkflowContext",
    "WorkflowSharedContext",
}


def _deliberately_missing(where: str) -> bool:
    return where in MISSING


# Parameters awaken has and restate-sdk does not: all keyword parameters with defaults.
EXTRA = {
    # a durable deadline for the awakeable (SPEC §1.2)
    ("restate.context.Context.awakeable", "timeout"),
    ("restate.Context.awakeable", "timeout"),
    ("restate.ObjectContext.awakeable", "timeout"),
    ("restate.ObjectSharedContext.awakeable", "timeout"),
    ("restate.WorkflowContext.awakeable", "timeout"),
    ("restate.WorkflowSharedContext.awakeable", "timeout"),
    ("restate.context.ObjectContext.awakeable", "timeout"),
    ("restate.context.ObjectSharedContext.awakeable", "timeout"),
    ("restate.context.WorkflowContext.awakeable", "timeout"),
    ("restate.context.WorkflowSharedContext.awakeable", "timeout"),
    # an exclusive workflow handler (restate-sdk's are always shared); keyword-only, last
    ("restate.Workflow.handler", "kind"),
    ("restate.workflow.Workflow.handler", "kind"),
}

# Signatures awaken takes as **kwargs (every restate-sdk keyword is accepted by name).
OPEN_SIGNATURES = {
    # awaken.app(services, **settings): restate-sdk's protocol / identity_keys are accepted and
    # have no meaning in-process (a journal_value_codec is another matter: see MISSING)
    "restate.app",
}


def _public(module: Any) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return sorted(names)
    return sorted(
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and getattr(v, "__module__", "") == module.__name__
    )


def _methods(cls: type) -> Iterator[str]:
    for name in dir(cls):
        if name.startswith("_"):
            continue
        value = inspect.getattr_static(cls, name, None)
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("restate"):
            continue
        if callable(value) or isinstance(value, staticmethod | classmethod):
            yield name


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # a builtin: accepts what it accepts


def _same_default(a: Any, b: Any) -> bool:
    if a is b or a == b:
        return True
    # instances standing for a default (DefaultSerde(), RunOptions()): the same class name
    return type(a).__name__ == type(b).__name__ and not isinstance(a, str | int | float | bool | type(None))


def _compare(where: str, theirs: Callable[..., Any], ours: Callable[..., Any]) -> list[str]:
    their_sig, our_sig = _signature(theirs), _signature(ours)
    if their_sig is None or our_sig is None:
        return []
    mine = list(our_sig.parameters.values())
    kinds = {p.kind for p in mine}
    if where in OPEN_SIGNATURES and inspect.Parameter.VAR_KEYWORD in kinds:
        return []
    if {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD} <= kinds and len(mine) <= 3:
        return []  # (self,) *args, **kwargs: accepts whatever restate-sdk's does (BaseException's)
    problems = []
    positional = [
        p for p in their_sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    our_positional = [p for p in mine if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for i, p in enumerate(positional):
        if i >= len(our_positional) or our_positional[i].name != p.name:
            got = our_positional[i].name if i < len(our_positional) else None
            problems.append(f"{where}: positional parameter {i} is {p.name!r} in restate-sdk, {got!r} here")
    by_name = our_sig.parameters
    for p in their_sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if not any(q.kind is p.kind for q in mine):
                problems.append(f"{where}: restate-sdk takes {p}, awaken does not")
            continue
        q = by_name.get(p.name)
        if q is None:
            problems.append(f"{where}: parameter {p.name!r} is missing")
            continue
        if p.kind is p.KEYWORD_ONLY and q.kind not in (q.KEYWORD_ONLY, q.POSITIONAL_OR_KEYWORD):
            problems.append(f"{where}: {p.name!r} must be accepted by keyword")
        if p.default is not p.empty and (q.default is q.empty or not _same_default(p.default, q.default)):
            problems.append(
                f"{where}: default of {p.name!r} is {p.default!r} in restate-sdk, {q.default!r} here"
            )
    for q in mine:
        if q.name in their_sig.parameters or q.kind in (q.VAR_POSITIONAL, q.VAR_KEYWORD):
            continue
        if (where, q.name) not in EXTRA:
            problems.append(f"{where}: awaken has an extra parameter {q.name!r} (list it in EXTRA)")
        elif q.default is q.empty:
            problems.append(f"{where}: the extra parameter {q.name!r} needs a default")
    return problems


def _surface() -> Iterator[tuple[str, Any, Any]]:
    """(qualified restate name, restate object, awaken object or None) for the whole surface."""
    for their_name, our_name in MODULES.items():
        theirs, ours = importlib.import_module(their_name), importlib.import_module(our_name)
        for name in _public(theirs):
            where = f"{their_name}.{name}"
            their_obj = getattr(theirs, name)
            our_obj = getattr(ours, name, None)
            yield where, their_obj, our_obj
            if inspect.isclass(their_obj) and our_obj is not None and where not in MISSING | DIFFERENT:
                for method in _methods(their_obj):
                    yield f"{where}.{method}", getattr(their_obj, method), getattr(our_obj, method, None)


SURFACE = list(_surface())


def test_every_restate_name_exists_in_awaken() -> None:
    missing = [where for where, _, ours in SURFACE if ours is None and not _deliberately_missing(where)]
    assert not missing, f"restate-sdk names awaken lacks: {missing}"
    present = [where for where, _, ours in SURFACE if ours is not None and _deliberately_missing(where)]
    assert not present, f"listed as missing but present (remove them from MISSING): {present}"


def test_every_signature_is_compatible() -> None:
    problems: list[str] = []
    for where, theirs, ours in SURFACE:
        if ours is None or not callable(theirs) or where in DIFFERENT:
            continue
        if inspect.isclass(theirs):
            if inspect.isclass(ours) and "__init__" in vars(theirs):
                problems += _compare(f"{where}.__init__", theirs.__init__, ours.__init__)
            continue
        problems += _compare(where, theirs, ours)
    assert not problems, "\n".join(problems)


def test_the_allow_lists_name_real_things() -> None:
    surface = {where for where, _, _ in SURFACE}
    assert surface >= MISSING, MISSING - surface
    assert {where for where, _ in EXTRA} <= surface
    assert surface >= OPEN_SIGNATURES
    assert surface >= DIFFERENT
    assert len(SURFACE) > 150  # the comparison really walked the modules


def test_the_class_hierarchy_matches_where_handlers_rely_on_it() -> None:
    import awaken

    assert issubclass(awaken.WorkflowContext, awaken.ObjectContext)
    assert issubclass(awaken.WorkflowSharedContext, awaken.ObjectSharedContext)
    assert issubclass(awaken.ObjectContext, awaken.Context)
    assert issubclass(awaken.RestateDurableSleepFuture, awaken.RestateDurableFuture)
    assert issubclass(awaken.exceptions.SuspendedException, awaken.SdkInternalBaseException)
    assert not issubclass(awaken.SdkInternalBaseException, Exception)
    # shared contexts cannot write state, in both
    for cls in (restate.ObjectSharedContext, awaken.ObjectSharedContext):
        assert not {"set", "clear", "clear_all"} & set(dir(cls))


def test_named_signals_are_compared_on_every_context_class() -> None:
    # the comparison above covers them: they are present, with restate-sdk's parameters
    compared = {where for where, _, ours in SURFACE if ours is not None}
    for module in ("restate", "restate.context"):
        for cls in CONTEXT_CLASSES:
            for method in ("signal", "resolve_signal", "reject_signal"):
                assert f"{module}.{cls}.{method}" in compared
    import awaken

    params = inspect.signature(awaken.Context.reject_signal).parameters
    assert list(params) == ["self", "invocation_id", "name", "failure_message", "failure_code"]
    assert params["failure_code"].default == 500
