"""awaken: durable execution for Python, with Restate's programming model.

`import awaken as restate` runs services written for the restate-sdk package.
"""

from __future__ import annotations

from awaken.application import AwakenApp, app
from awaken.client import AsyncClient, Client
from awaken.errors import (
    AwakenError,
    RetryableError,
    Suspended,
    TerminalError,
    is_internal_exception,
)
from awaken.errors import InvocationControl as SdkInternalBaseException
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
    SendHandle,
    WorkflowContext,
    WorkflowSharedContext,
)
from awaken.sdk.serde import BytesSerde, DefaultSerde, JsonSerde, PydanticJsonSerde, Serde
from awaken.sdk.service import InvocationRetryPolicy, Service, VirtualObject, Workflow

__all__ = [
    "AsyncClient",
    "AwakenApp",
    "AwakenError",
    "BytesSerde",
    "Client",
    "Context",
    "DefaultSerde",
    "DurablePromise",
    "InvocationRetryPolicy",
    "JsonSerde",
    "ObjectContext",
    "ObjectSharedContext",
    "PydanticJsonSerde",
    "Request",
    "RestateDurableCallFuture",
    "RestateDurableFuture",
    "RestateDurableSleepFuture",
    "RestateLoggingFilter",
    "RetryableError",
    "RunOptions",
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
    "gather",
    "getLogger",
    "is_internal_exception",
    "select",
    "wait_completed",
]
