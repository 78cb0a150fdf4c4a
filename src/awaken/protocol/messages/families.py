"""The three families of protocol messages: every type code, and the base class of each family.

By type code range: control messages `0x0000-0x03FF`, commands `0x0400-0x7FFF` (and the custom
entries `0xFC00-0xFFFF`), notifications `0x8000-0xFBFF`.
"""

from __future__ import annotations

import enum
from typing import ClassVar, TypeAlias


class MessageType(enum.IntEnum):
    """Every message type code of the protocol."""

    START = 0x0000
    SUSPENSION = 0x0001
    ERROR = 0x0002
    END = 0x0003
    PROPOSE_RUN_COMPLETION = 0x0005
    AWAITING_ON = 0x0006
    PROPOSE_RUN_COMPLETION_ACK = 0x0007
    INPUT_COMMAND = 0x0400
    OUTPUT_COMMAND = 0x0401
    GET_LAZY_STATE_COMMAND = 0x0402
    SET_STATE_COMMAND = 0x0403
    CLEAR_STATE_COMMAND = 0x0404
    CLEAR_ALL_STATE_COMMAND = 0x0405
    GET_LAZY_STATE_KEYS_COMMAND = 0x0406
    GET_EAGER_STATE_COMMAND = 0x0407
    GET_EAGER_STATE_KEYS_COMMAND = 0x0408
    GET_PROMISE_COMMAND = 0x0409
    PEEK_PROMISE_COMMAND = 0x040A
    COMPLETE_PROMISE_COMMAND = 0x040B
    SLEEP_COMMAND = 0x040C
    CALL_COMMAND = 0x040D
    ONE_WAY_CALL_COMMAND = 0x040E
    SEND_SIGNAL_COMMAND = 0x0410
    RUN_COMMAND = 0x0411
    ATTACH_INVOCATION_COMMAND = 0x0412
    GET_INVOCATION_OUTPUT_COMMAND = 0x0413
    COMPLETE_AWAKEABLE_COMMAND = 0x0414
    GET_LAZY_STATE_COMPLETION = 0x8002
    GET_LAZY_STATE_KEYS_COMPLETION = 0x8006
    GET_PROMISE_COMPLETION = 0x8009
    PEEK_PROMISE_COMPLETION = 0x800A
    COMPLETE_PROMISE_COMPLETION = 0x800B
    SLEEP_COMPLETION = 0x800C
    CALL_COMPLETION = 0x800D
    CALL_INVOCATION_ID_COMPLETION = 0x800E
    RUN_COMPLETION = 0x8011
    ATTACH_INVOCATION_COMPLETION = 0x8012
    GET_INVOCATION_OUTPUT_COMPLETION = 0x8013
    SIGNAL_NOTIFICATION = 0xFBFF


def is_command_code(code: int) -> bool:
    return 0x0400 <= code < 0x8000 or is_custom_code(code)


def is_notification_code(code: int) -> bool:
    return 0x8000 <= code < 0xFC00


def is_custom_code(code: int) -> bool:
    return 0xFC00 <= code <= 0xFFFF


class ControlMessage:
    __slots__ = ()
    TYPE: ClassVar[MessageType]


class Command:
    """A journal entry written by the SDK; `name` is its entry name (shown in tooling)."""

    __slots__ = ()
    TYPE: ClassVar[MessageType]


class Notification:
    """A completion of a command (by `completion_id`) or a signal (by index or name)."""

    __slots__ = ()
    TYPE: ClassVar[MessageType]


ProtocolMessage: TypeAlias = ControlMessage | Command | Notification
"""Any message that travels on an invocation stream."""
