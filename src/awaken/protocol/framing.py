"""Framing of the service protocol: an 8-byte header, then the protobuf payload.

Header, big-endian: message type (u16), flags (u16; the top bit is REQUESTED_ACK, the only flag
defined, and only on `ProposeRunCompletionMessage`), payload length (u32).

Decoding is sans-IO, h11 style: bytes go in (`feed`), in whatever chunks the transport gives,
complete messages come out. The input is untrusted: a header is checked (known type, length
within `max_message_size`) as soon as its 8 bytes are there, before any payload is buffered, and
nothing is ever allocated from a declared length. Every failure is a `CodecError`; after one the
decoder stays failed (the stream cannot be resynchronized).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from awaken.protocol.errors import (
    CodecError,
    MessageEncodeError,
    MessageTooLarge,
    TruncatedMessage,
    UnknownMessageType,
)
from awaken.protocol.messages import (
    MESSAGE_CLASSES,
    REQUESTED_ACK_FLAG,
    CustomEntry,
    ProtocolMessage,
    is_custom_code,
)
from awaken.protocol.schema import decode_payload, encode_payload, header_flags_of

HEADER = struct.Struct(">HHI")
HEADER_SIZE = HEADER.size
DEFAULT_MAX_MESSAGE_SIZE = 32 * 1024 * 1024
_MAX_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Frame:
    """One message as it travels: type code, header flags, raw payload."""

    type_code: int
    flags: int
    payload: bytes

    @property
    def requested_ack(self) -> bool:
        return bool(self.flags & REQUESTED_ACK_FLAG)

    def encode(self) -> bytes:
        return encode_frame(self.type_code, self.payload, self.flags)


def encode_frame(type_code: int, payload: bytes, flags: int = 0) -> bytes:
    if not 0 <= type_code <= 0xFFFF or not 0 <= flags <= 0xFFFF:
        raise MessageEncodeError(f"type code 0x{type_code:X} or flags 0x{flags:X} out of range")
    if len(payload) > _MAX_U32:
        raise MessageEncodeError(f"payload of {len(payload)} bytes does not fit a u32 length")
    return HEADER.pack(type_code, flags, len(payload)) + payload


def to_frame(message: ProtocolMessage) -> Frame:
    """The frame of a message (its header flags taken from its flag fields)."""
    if isinstance(message, CustomEntry):
        if not is_custom_code(message.type_code):
            raise MessageEncodeError(f"0x{message.type_code:04X} is not a custom entry type code")
        return Frame(message.type_code, 0, message.payload)
    flags = 0
    for name, mask in header_flags_of(type(message)):
        if getattr(message, name):
            flags |= mask
    return Frame(message.TYPE, flags, encode_payload(message))


def encode_message(message: ProtocolMessage) -> bytes:
    """Header and payload of one message."""
    return to_frame(message).encode()


def encode_messages(messages: Iterable[ProtocolMessage]) -> bytes:
    return b"".join(encode_message(m) for m in messages)


def is_known_type(type_code: int) -> bool:
    return type_code in MESSAGE_CLASSES or is_custom_code(type_code)


def decode_frame(frame: Frame) -> ProtocolMessage:
    """The typed message of a frame; `UnknownMessageType` or `MalformedMessage` if it is none."""
    if is_custom_code(frame.type_code):
        return CustomEntry(frame.type_code, frame.payload)
    cls = MESSAGE_CLASSES.get(frame.type_code)
    if cls is None:
        raise UnknownMessageType(frame.type_code)
    flag_fields = header_flags_of(cls)
    flags = {name: bool(frame.flags & mask) for name, mask in flag_fields} if flag_fields else None
    return decode_payload(cls, frame.payload, flags)


class FrameDecoder:
    """Bytes in, frames out. `close()` at end of stream raises if a frame was cut short."""

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE, *, known_types_only: bool = True):
        self._max = max_message_size
        self._known_only = known_types_only
        self._buffer = bytearray()
        self._header: tuple[int, int, int] | None = None
        self._error: CodecError | None = None
        self._closed = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Take the next chunk of the stream; return the frames it completes (maybe none)."""
        if self._error is not None:
            raise self._error
        if self._closed:
            raise CodecError("data fed after the end of the stream")
        self._buffer += data
        frames: list[Frame] = []
        pos = 0
        buf = self._buffer
        try:
            while True:
                if self._header is None:
                    if len(buf) - pos < HEADER_SIZE:
                        break
                    header = HEADER.unpack_from(buf, pos)
                    self._check(header)
                    self._header = header
                    pos += HEADER_SIZE
                type_code, flags, length = self._header
                if len(buf) - pos < length:
                    break
                frames.append(Frame(type_code, flags, bytes(buf[pos : pos + length])))
                pos += length
                self._header = None
        except CodecError as exc:
            self._error = exc
            raise
        finally:
            if pos:
                del buf[:pos]
        return frames

    def _check(self, header: tuple[int, int, int]) -> None:
        type_code, _flags, length = header
        if self._known_only and not is_known_type(type_code):
            raise UnknownMessageType(type_code)
        if length > self._max:
            raise MessageTooLarge(length, self._max)

    def close(self) -> None:
        """The stream ended: fine on a frame boundary, `TruncatedMessage` inside a frame."""
        if self._error is not None:
            raise self._error
        self._closed = True
        if self._header is not None or self._buffer:
            pending = self._header[2] + HEADER_SIZE if self._header else HEADER_SIZE
            got = len(self._buffer) + (HEADER_SIZE if self._header else 0)
            self._error = TruncatedMessage(f"stream ended after {got} of {pending} bytes of a message")
            raise self._error


class MessageDecoder:
    """Bytes in, typed messages out (a `FrameDecoder` plus `decode_frame`)."""

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._frames = FrameDecoder(max_message_size)
        self._error: CodecError | None = None

    @property
    def buffered(self) -> int:
        return self._frames.buffered

    def feed(self, data: bytes) -> list[ProtocolMessage]:
        if self._error is not None:
            raise self._error
        try:
            return [decode_frame(frame) for frame in self._frames.feed(data)]
        except CodecError as exc:
            self._error = exc
            raise

    def close(self) -> None:
        if self._error is not None:
            raise self._error
        self._frames.close()


def decode_messages(data: bytes, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> list[ProtocolMessage]:
    """Every message of a complete body (which must end on a message boundary)."""
    decoder = MessageDecoder(max_message_size)
    messages = decoder.feed(data)
    decoder.close()
    return messages
