"""awaken: durable execution for Python, with Restate's programming model.

`import awaken as restate` runs services written for the restate-sdk package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awaken import logging as logging  # restate-sdk's `restate.logging` module
from awaken.application import AwakenApp, app
from awaken.client import AsyncClient, Client, create_client
from awaken.client_types import HttpError, RestateClient, RestateClientSendHandle
from awaken.errors import AwakenError, RetryableError, Suspended, TerminalError
from awaken.errors import InvocationControl as SdkInternalBaseException
from awaken.exceptions import is_internal_exception
from awaken.observability.logs import RestateLoggingFilter, getLogger
from awaken.sdk.combinators import as_completed, gather, select, wait_completed
from awaken.sdk.context import (
    Context,
    DurablePromise,
    ObjectContext,
    ObjectSharedContext,
    Request,
    RestateDurableCallFuture,
    RestateDurableFuture,
    RestateDurableSleepFuture,
    RunOptions,
    ScopedContext,
    SendHandle,
    WorkflowContext,
    WorkflowSharedContext,
)
from awaken.sdk.serde import BytesSerde, DefaultSerde, JsonSerde, MsgspecJsonSerde, PydanticJsonSerde, Serde
from awaken.sdk.service import InvocationRetryPolicy, Service, VirtualObject, Workflow
from awaken.types import HarnessEnvironment

if TYPE_CHECKING:
    from awaken.testing.restate_harness import create_test_harness, test_harness

__all__ = [
    "AsyncClient",
    "AwakenApp",
    "AwakenError",
    "BytesSerde",
    "Client",
    "Context",
    "DefaultSerde",
    "DurablePromise",
    "HarnessEnvironment",
    "HttpError",
    "InvocationRetryPolicy",
    "JsonSerde",
    "MsgspecJsonSerde",
    "ObjectContext",
    "ObjectSharedContext",
    "PydanticJsonSerde",
    "Request",
    "RestateClient",
    "RestateClientSendHandle",
    "RestateDurableCallFuture",
    "RestateDurableFuture",
    "RestateDurableSleepFuture",
    "RestateLoggingFilter",
    "RetryableError",
    "RunOptions",
    "ScopedContext",
    "SdkInternalBaseException",
    "SendHandle",
    "Serde",
    "Service",
    "Suspended",
    "TerminalError",
    "VirtualObject",
    "Workflow",
    "WorkflowContext",
    "WorkflowSharedContext",
    "app",
    "as_completed",
    "create_client",
    "create_test_harness",
    "gather",
    "getLogger",
    "is_internal_exception",
    "select",
    "test_harness",
    "wait_completed",
]


def __getattr__(name: str) -> Any:
    # The test harness brings uvicorn and the admin API: loaded when a test asks for it, not by
    # every `import awaken`.
    if name in ("create_test_harness", "test_harness"):
        from awaken.testing import restate_harness

        return getattr(restate_harness, name)
    raise AttributeError(f"module 'awaken' has no attribute {name!r}")
