"""The public names are a contract: adding one is a decision, removing one breaks users."""

from __future__ import annotations

import inspect

import awaken

EXPECTED = {
    "AsyncClient", "AwakenApp", "AwakenError", "BytesSerde", "Client", "Context", "DefaultSerde",
    "DurablePromise", "InvocationRetryPolicy", "JsonSerde", "ObjectContext", "ObjectSharedContext",
    "PydanticJsonSerde", "Request", "RestateDurableCallFuture", "RestateDurableFuture",
    "RestateDurableSleepFuture", "RetryableError", "RunOptions", "SdkInternalBaseException",
    "SendHandle", "Serde", "Service", "Suspended", "TerminalError", "VirtualObject", "Workflow",
    "WorkflowContext", "WorkflowSharedContext", "app", "as_completed", "gather",
    "is_internal_exception", "select", "wait_completed",
    # restate-sdk's names added for compatibility (tests/unit/test_compat_surface.py checks them)
    "HarnessEnvironment", "HttpError", "MsgspecJsonSerde", "RestateClient", "RestateClientSendHandle",
    "ScopedContext", "create_client", "create_test_harness", "test_harness",
    "RestateLoggingFilter", "getLogger",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(awaken.__all__) == EXPECTED
    for name in awaken.__all__:
        assert hasattr(awaken, name), name


def test_restate_sdk_names_and_signatures() -> None:
    """The restate-sdk 1.x surface that services use, by name and keyword."""
    ctx = awaken.Context
    for method in ("run", "run_typed", "sleep", "awakeable", "resolve_awakeable", "reject_awakeable",
                   "service_call", "service_send", "object_call", "object_send", "workflow_call",
                   "workflow_send", "generic_call", "generic_send", "random", "uuid", "time", "request",
                   "cancel_invocation", "attach_invocation"):  # fmt: skip
        assert callable(getattr(ctx, method)), method
    assert list(inspect.signature(ctx.reject_awakeable).parameters) == [
        "self", "name", "failure_message", "failure_code",
    ]  # fmt: skip
    assert "type_hint" in inspect.signature(ctx.awakeable).parameters
    assert "timeout" in inspect.signature(ctx.awakeable).parameters  # awaken's addition
    assert {"set", "clear", "clear_all"} <= set(dir(awaken.ObjectContext))
    assert not {"set", "clear", "clear_all"} & set(dir(awaken.ObjectSharedContext))
    assert list(inspect.signature(awaken.TerminalError).parameters) == ["message", "status_code", "metadata"]
    opts = awaken.RunOptions(max_attempts=3)
    assert opts.max_attempts == 3 and opts.initial_retry_interval is None


def test_restate_logging_names() -> None:
    """restate-sdk's `restate.getLogger(name)` and `RestateLoggingFilter` (a logging.Filter)."""
    import logging

    logger = awaken.getLogger("compat.names")
    assert logger is logging.getLogger("compat.names")
    assert sum(isinstance(f, awaken.RestateLoggingFilter) for f in logger.filters) == 1
    assert awaken.getLogger("compat.names") is logger and len(logger.filters) == 1  # added once
    assert issubclass(awaken.RestateLoggingFilter, logging.Filter)


def test_internal_exceptions_are_base_exceptions() -> None:
    assert issubclass(awaken.Suspended, BaseException) and not issubclass(awaken.Suspended, Exception)
    assert awaken.is_internal_exception(awaken.Suspended())
    assert not awaken.is_internal_exception(awaken.TerminalError("x"))


def test_app_accepts_restate_keywords() -> None:
    svc = awaken.Service("compat")

    @svc.handler()
    async def hello(ctx: awaken.Context, name: str) -> str:
        return name

    app = awaken.app(services=[svc], protocol="bidi", identity_keys=["publickeyv1_x"])
    assert isinstance(app, awaken.AwakenApp)
    assert app.services[0].handlers["hello"].input_type is str
