"""restate-sdk's `restate.context`: the context classes, futures and options, under its names."""

from __future__ import annotations

from awaken.sdk.context import (
    AttemptFinishedEvent,
    Context,
    DurablePromise,
    HandlerType,
    KeyValueStore,
    ObjectContext,
    ObjectSharedContext,
    Request,
    RestateDurableCallFuture,
    RestateDurableFuture,
    RestateDurableSleepFuture,
    RunAction,
    RunOptions,
    ScopedContext,
    SendHandle,
    WorkflowContext,
    WorkflowSharedContext,
)

__all__ = [
    "AttemptFinishedEvent",
    "Context",
    "DurablePromise",
    "HandlerType",
    "KeyValueStore",
    "ObjectContext",
    "ObjectSharedContext",
    "Request",
    "RestateDurableCallFuture",
    "RestateDurableFuture",
    "RestateDurableSleepFuture",
    "RunAction",
    "RunOptions",
    "ScopedContext",
    "SendHandle",
    "WorkflowContext",
    "WorkflowSharedContext",
]
