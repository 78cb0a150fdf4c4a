"""A context method called with a keyword it does not take is a misuse (the invocation fails at
once, no retry), whichever of the classes the context is made of defines the method."""

from __future__ import annotations

import inspect

import pytest

import awaken as restate
from awaken.core.machine import InvocationMachine
from awaken.sdk.guards import is_context_misuse
from awaken.sdk.invocation import InvocationContext
from awaken.sdk.replay_check import _ReplayDriver
from awaken.sdk.service import handler_spec_of

svc = restate.Service("context_misuse_unit")


@svc.handler()
async def noop(ctx: restate.Context) -> None:
    return None


def _own_methods() -> list[str]:
    names = []
    for name in dir(InvocationContext):
        owner = next((k for k in InvocationContext.__mro__ if name in vars(k)), None)
        if name.startswith("_") or owner is None or not owner.__module__.startswith("awaken.sdk"):
            continue
        fn = vars(owner)[name]
        takes_any_keyword = inspect.isfunction(fn) and any(
            p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values()
        )
        if inspect.isfunction(fn) and not takes_any_keyword:
            names.append(name)
    return names


def test_the_methods_come_from_more_than_one_class() -> None:
    owners = {getattr(InvocationContext, name).__qualname__.split(".")[0] for name in _own_methods()}
    assert {"InvocationContext", "CallActions", "StateActions", "JournalContext"} <= owners


@pytest.mark.parametrize("name", _own_methods())
def test_an_unknown_keyword_is_a_misuse_of_the_context(name: str) -> None:
    ctx = InvocationContext(
        spec=handler_spec_of(noop),
        driver=_ReplayDriver(InvocationMachine([]), 1_700_000_000_000),
        invocation_id="inv_105k6dMakFd00h2BarxrUEALiu6nV3hKx3",
        key=None,
        headers={},
        body=b"",
        idempotency_key=None,
        state={},
    )
    with pytest.raises(TypeError) as caught:
        getattr(ctx, name)(no_such_keyword=1)
    assert "unexpected keyword argument 'no_such_keyword'" in str(caught.value)
    assert is_context_misuse(caught.value)
