"""Framing and the message codec: round trips of arbitrary messages, arbitrary chunkings, limits,
and untrusted bytes that never raise anything but the codec's own errors."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awaken.protocol import (
    CodecError,
    FrameDecoder,
    MalformedMessage,
    MessageDecoder,
    MessageEncodeError,
    MessageTooLarge,
    TruncatedMessage,
    UnknownMessageType,
    decode_messages,
    encode_message,
    encode_messages,
)
from awaken.protocol.framing import HEADER_SIZE, Frame, decode_frame, to_frame
from awaken.protocol.messages import (
    MESSAGE_CLASSES,
    REQUESTED_ACK_FLAG,
    CustomEntry,
    EndMessage,
    Failure,
    FailureMetadata,
    Future,
    MessageType,
    OutputCommand,
    ProposeRunCompletionMessage,
    ProtocolMessage,
    SleepCommand,
    StartMessage,
    StateEntry,
    SuspensionMessage,
    Value,
)
from tests.unit.protocol_strategies import any_message, message_of


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300)
@given(any_message)
def test_every_message_round_trips(message: ProtocolMessage) -> None:
    assert decode_messages(encode_message(message)) == [message]


@given(st.lists(any_message, max_size=8), st.lists(st.integers(0, 10_000), max_size=12))
def test_any_chunking_yields_the_same_messages(messages: list[ProtocolMessage], cuts: list[int]) -> None:
    data = encode_messages(messages)
    decoder = MessageDecoder()
    out: list[ProtocolMessage] = []
    for chunk in _chunks(data, cuts):
        out.extend(decoder.feed(chunk))
    decoder.close()
    assert out == messages
    assert decoder.buffered == 0


@settings(max_examples=500)
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=6))
def test_garbage_raises_only_codec_errors(data: bytes, cuts: list[int]) -> None:
    decoder = MessageDecoder(max_message_size=1 << 16)
    try:
        for chunk in _chunks(data, cuts):
            decoder.feed(chunk)
        decoder.close()
    except CodecError:
        # Once failed, the decoder stays failed with the same error.
        with pytest.raises(CodecError):
            decoder.feed(b"")


@settings(max_examples=300)
@given(st.sampled_from(sorted(MESSAGE_CLASSES)), st.binary(max_size=200))
def test_garbage_payloads_of_known_types_raise_only_malformed(type_code: int, payload: bytes) -> None:
    try:
        message = decode_frame(Frame(type_code, 0, payload))
    except MalformedMessage:
        return
    assert type_code == type(message).TYPE


def test_every_message_type_of_the_reference_has_its_code() -> None:
    expected = {
        0x0000: "StartMessage",
        0x0001: "SuspensionMessage",
        0x0002: "ErrorMessage",
        0x0003: "EndMessage",
        0x0005: "ProposeRunCompletionMessage",
        0x0006: "AwaitingOnMessage",
        0x0007: "ProposeRunCompletionAckMessage",
        0x0400: "InputCommand",
        0x0401: "OutputCommand",
        0x0402: "GetLazyStateCommand",
        0x0403: "SetStateCommand",
        0x0404: "ClearStateCommand",
        0x0405: "ClearAllStateCommand",
        0x0406: "GetLazyStateKeysCommand",
        0x0407: "GetEagerStateCommand",
        0x0408: "GetEagerStateKeysCommand",
        0x0409: "GetPromiseCommand",
        0x040A: "PeekPromiseCommand",
        0x040B: "CompletePromiseCommand",
        0x040C: "SleepCommand",
        0x040D: "CallCommand",
        0x040E: "OneWayCallCommand",
        0x0410: "SendSignalCommand",
        0x0411: "RunCommand",
        0x0412: "AttachInvocationCommand",
        0x0413: "GetInvocationOutputCommand",
        0x0414: "CompleteAwakeableCommand",
        0x8002: "GetLazyStateCompletionNotification",
        0x8006: "GetLazyStateKeysCompletionNotification",
        0x8009: "GetPromiseCompletionNotification",
        0x800A: "PeekPromiseCompletionNotification",
        0x800B: "CompletePromiseCompletionNotification",
        0x800C: "SleepCompletionNotification",
        0x800D: "CallCompletionNotification",
        0x800E: "CallInvocationIdCompletionNotification",
        0x8011: "RunCompletionNotification",
        0x8012: "AttachInvocationCompletionNotification",
        0x8013: "GetInvocationOutputCompletionNotification",
        0xFBFF: "SignalNotification",
    }
    assert {code: cls.__name__ for code, cls in MESSAGE_CLASSES.items()} == expected
    assert {int(t) for t in MessageType} == set(expected)


def test_known_bytes_of_the_wire() -> None:
    """Bytes written by hand from the protocol definition: field numbers and types, not our own echo."""
    # SleepCommand: wake_up_time (1, varint) = 1000, result_completion_id (11, varint) = 1, name (12) = "s"
    payload = bytes([0x08, 0xE8, 0x07, 0x58, 0x01, 0x62, 0x01, ord("s")])
    frame = struct.pack(">HHI", 0x040C, 0, len(payload)) + payload
    assert encode_message(SleepCommand(wake_up_time=1000, result_completion_id=1, name="s")) == frame
    # OutputCommand with value (14, message) {content (1, bytes) = "1"}
    out = encode_message(OutputCommand(result=Value(b"1")))
    assert out == struct.pack(">HHI", 0x0401, 0, 5) + bytes([0x72, 0x03, 0x0A, 0x01, ord("1")])
    # Failure with metadata (3, repeated message) {key "k" value "v"}
    failure = OutputCommand(result=Failure(code=404, message="m", metadata=(FailureMetadata("k", "v"),)))
    decoded = decode_messages(encode_message(failure))
    assert decoded == [failure]
    # An EndMessage is a bare header.
    assert encode_message(EndMessage()) == b"\x00\x03\x00\x00\x00\x00\x00\x00"


def test_the_requested_ack_flag_travels_in_the_header() -> None:
    proposal = ProposeRunCompletionMessage(result_completion_id=3, result=b"x", requested_ack=True)
    frame = to_frame(proposal)
    assert frame.flags == REQUESTED_ACK_FLAG and frame.requested_ack
    data = encode_message(proposal)
    assert data[2:4] == b"\x80\x00"
    assert decode_messages(data) == [proposal]
    assert decode_messages(encode_message(ProposeRunCompletionMessage(3, b"x"))) == [
        ProposeRunCompletionMessage(3, b"x")
    ]


def test_v5_and_v7_suspensions_read_alike() -> None:
    v6 = SuspensionMessage(waiting_completions=(2,), waiting_signals=(1, 17))
    v7 = SuspensionMessage(
        awaiting_on=Future(
            waiting_signals=(1,), nested_futures=(Future(waiting_completions=(2,), waiting_signals=(17,)),)
        )
    )
    assert v6.awaited() == v7.awaited() == (frozenset({2}), frozenset({1, 17}), frozenset())


def test_custom_entries_are_kept_opaque() -> None:
    entry = CustomEntry(0xFC01, b"\x00\x01opaque")
    assert decode_messages(encode_message(entry)) == [entry]
    with pytest.raises(MessageEncodeError):
        encode_message(CustomEntry(0x0400, b""))


def test_unknown_type_is_refused_at_its_header() -> None:
    decoder = MessageDecoder()
    with pytest.raises(UnknownMessageType, match="0x0BAD"):
        decoder.feed(struct.pack(">HHI", 0x0BAD, 0, 10))  # payload not even sent
    with pytest.raises(UnknownMessageType):
        decoder.feed(b"more")


def test_declared_length_is_checked_before_anything_is_buffered() -> None:
    decoder = FrameDecoder(max_message_size=1024)
    with pytest.raises(MessageTooLarge) as raised:
        decoder.feed(struct.pack(">HHI", 0x0401, 0, 0xFFFFFFFF))
    assert (raised.value.declared, raised.value.limit) == (0xFFFFFFFF, 1024)
    ok = FrameDecoder(max_message_size=4)
    assert ok.feed(struct.pack(">HHI", 0x0401, 0, 4) + b"\x72\x02\x0a\x00") == [
        Frame(0x0401, 0, b"\x72\x02\x0a\x00")
    ]


def test_truncation_is_reported_at_close() -> None:
    data = encode_message(StartMessage(id=b"i" * 24, state_map=(StateEntry(b"k", b"v"),)))
    for cut in (3, HEADER_SIZE, len(data) - 1):
        decoder = MessageDecoder()
        assert decoder.feed(data[:cut]) == []
        with pytest.raises(TruncatedMessage, match=f"after {cut} of"):
            decoder.close()
    decoder = MessageDecoder()
    decoder.feed(data)
    decoder.close()
    with pytest.raises(CodecError):
        decoder.feed(b"x")


def test_encoding_refuses_values_out_of_range() -> None:
    with pytest.raises(MessageEncodeError):
        encode_message(SleepCommand(result_completion_id=2**32))
    with pytest.raises(MessageEncodeError):
        encode_message(OutputCommand(result="not a Value"))  # type: ignore[arg-type]


@given(message_of(Future))
def test_nested_futures_round_trip(future: Future) -> None:
    message = SuspensionMessage(awaiting_on=future)
    assert decode_messages(encode_message(message)) == [message]


def test_absurd_nesting_is_malformed_not_a_crash() -> None:
    # Future.nested_futures (field 4) nested 200 deep: protobuf's recursion limit, as our error.
    payload = b""
    for _ in range(200):
        payload = b"\x22" + _varint(len(payload)) + payload
    message = b"\x22" + _varint(len(payload)) + payload  # SuspensionMessage.awaiting_on (4)
    with pytest.raises(MalformedMessage):
        decode_messages(struct.pack(">HHI", 0x0001, 0, len(message)) + message)


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out
