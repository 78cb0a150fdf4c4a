"""The messages of Restate's service protocol (V5, V6 and V7), written here as typed values.

Field numbers and types follow the public protocol definition (`dev/restate/service/protocol.proto`
of restatedev/service-protocol, and `docs/service-invocation-protocol.md` of
restatedev/sdk-shared-core), so the bytes are the SDKs' bytes; the definitions are our own.

Three families, by type code range:
- control messages `0x0000-0x03FF` (start, suspension, error, end, run proposals, awaiting-on);
- commands `0x0400-0x7FFF`, which are journal entries the SDK writes (and the runtime replays);
- notifications `0x8000-0xFBFF`: completions of commands (command code | 0x8000) and signals.
Custom entries (`0xFC00-0xFFFF`) are opaque commands: `CustomEntry` keeps their bytes.

Version notes: V6 added `StartMessage.random_seed` and `Failure.metadata`; V7 added `Future`,
`AwaitingOnMessage`, `ProposeRunCompletionAckMessage`, `SuspensionMessage.awaiting_on` (in place
of the flat `waiting_*` lists, which V5/V6 use), scope / limit key fields, named signals in
suspensions and `ErrorMessage.behavior`. Both shapes of `SuspensionMessage` decode into the one
class (`SuspensionMessage.awaited()` reads either).

This module is the catalogue: the messages are defined by family in `families` (type codes and
base classes), `values` (what messages nest), `control`, `commands` and `notifications`, and
importing it seals the wire schema once every part is registered.
"""

from __future__ import annotations

from awaken.protocol.messages.commands import (
    AttachInvocationCommand,
    CallCommand,
    ClearAllStateCommand,
    ClearStateCommand,
    CompleteAwakeableCommand,
    CompletePromiseCommand,
    CustomEntry,
    GetEagerStateCommand,
    GetEagerStateKeysCommand,
    GetInvocationOutputCommand,
    GetLazyStateCommand,
    GetLazyStateKeysCommand,
    GetPromiseCommand,
    InputCommand,
    OneWayCallCommand,
    OutputCommand,
    PeekPromiseCommand,
    RunCommand,
    SendSignalCommand,
    SetStateCommand,
    SleepCommand,
)
from awaken.protocol.messages.control import (
    JOURNAL_MISMATCH,
    PROTOCOL_VIOLATION,
    REQUESTED_ACK_FLAG,
    AwaitingOnMessage,
    EndMessage,
    ErrorBehavior,
    ErrorMessage,
    ProposeRunCompletionAckMessage,
    ProposeRunCompletionMessage,
    StartMessage,
    SuspensionMessage,
)
from awaken.protocol.messages.families import (
    Command,
    ControlMessage,
    MessageType,
    Notification,
    ProtocolMessage,
    is_command_code,
    is_custom_code,
    is_notification_code,
)
from awaken.protocol.messages.notifications import (
    AttachInvocationCompletionNotification,
    CallCompletionNotification,
    CallInvocationIdCompletionNotification,
    CompletePromiseCompletionNotification,
    GetInvocationOutputCompletionNotification,
    GetLazyStateCompletionNotification,
    GetLazyStateKeysCompletionNotification,
    GetPromiseCompletionNotification,
    PeekPromiseCompletionNotification,
    RunCompletionNotification,
    SignalNotification,
    SleepCompletionNotification,
)
from awaken.protocol.messages.values import (
    CANCEL_SIGNAL_INDEX,
    FIRST_AWAKEABLE_SIGNAL_INDEX,
    CombinatorType,
    Failure,
    FailureMetadata,
    Future,
    Header,
    IdempotentRequestTarget,
    StateEntry,
    StateKeys,
    Value,
    Void,
    WorkflowTarget,
)
from awaken.protocol.schema import seal

seal()

MESSAGE_CLASSES: dict[int, type[ProtocolMessage]] = {
    cls.TYPE: cls
    for cls in (
        StartMessage,
        SuspensionMessage,
        ErrorMessage,
        EndMessage,
        ProposeRunCompletionMessage,
        AwaitingOnMessage,
        ProposeRunCompletionAckMessage,
        InputCommand,
        OutputCommand,
        GetLazyStateCommand,
        SetStateCommand,
        ClearStateCommand,
        ClearAllStateCommand,
        GetLazyStateKeysCommand,
        GetEagerStateCommand,
        GetEagerStateKeysCommand,
        GetPromiseCommand,
        PeekPromiseCommand,
        CompletePromiseCommand,
        SleepCommand,
        CallCommand,
        OneWayCallCommand,
        SendSignalCommand,
        RunCommand,
        AttachInvocationCommand,
        GetInvocationOutputCommand,
        CompleteAwakeableCommand,
        GetLazyStateCompletionNotification,
        GetLazyStateKeysCompletionNotification,
        GetPromiseCompletionNotification,
        PeekPromiseCompletionNotification,
        CompletePromiseCompletionNotification,
        SleepCompletionNotification,
        CallInvocationIdCompletionNotification,
        CallCompletionNotification,
        RunCompletionNotification,
        AttachInvocationCompletionNotification,
        GetInvocationOutputCompletionNotification,
        SignalNotification,
    )
}
"""Type code -> message class, for every type of `MessageType`."""


__all__ = [
    "CANCEL_SIGNAL_INDEX",
    "FIRST_AWAKEABLE_SIGNAL_INDEX",
    "JOURNAL_MISMATCH",
    "MESSAGE_CLASSES",
    "PROTOCOL_VIOLATION",
    "REQUESTED_ACK_FLAG",
    "AttachInvocationCommand",
    "AttachInvocationCompletionNotification",
    "AwaitingOnMessage",
    "CallCommand",
    "CallCompletionNotification",
    "CallInvocationIdCompletionNotification",
    "ClearAllStateCommand",
    "ClearStateCommand",
    "CombinatorType",
    "Command",
    "CompleteAwakeableCommand",
    "CompletePromiseCommand",
    "CompletePromiseCompletionNotification",
    "ControlMessage",
    "CustomEntry",
    "EndMessage",
    "ErrorBehavior",
    "ErrorMessage",
    "Failure",
    "FailureMetadata",
    "Future",
    "GetEagerStateCommand",
    "GetEagerStateKeysCommand",
    "GetInvocationOutputCommand",
    "GetInvocationOutputCompletionNotification",
    "GetLazyStateCommand",
    "GetLazyStateCompletionNotification",
    "GetLazyStateKeysCommand",
    "GetLazyStateKeysCompletionNotification",
    "GetPromiseCommand",
    "GetPromiseCompletionNotification",
    "Header",
    "IdempotentRequestTarget",
    "InputCommand",
    "MessageType",
    "Notification",
    "OneWayCallCommand",
    "OutputCommand",
    "PeekPromiseCommand",
    "PeekPromiseCompletionNotification",
    "ProposeRunCompletionAckMessage",
    "ProposeRunCompletionMessage",
    "ProtocolMessage",
    "RunCommand",
    "RunCompletionNotification",
    "SendSignalCommand",
    "SetStateCommand",
    "SignalNotification",
    "SleepCommand",
    "SleepCompletionNotification",
    "StartMessage",
    "StateEntry",
    "StateKeys",
    "SuspensionMessage",
    "Value",
    "Void",
    "WorkflowTarget",
    "is_command_code",
    "is_custom_code",
    "is_notification_code",
]
