"""Hypothesis strategies for arbitrary protocol messages, derived from their wire description."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from awaken.protocol.messages import MESSAGE_CLASSES, CustomEntry, ProtocolMessage
from awaken.protocol.schema import Kind, WireField, resolve, wire_fields

_SCALARS: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.U32: st.integers(0, 2**32 - 1),
    Kind.U64: st.integers(0, 2**64 - 1),
    Kind.BOOL: st.booleans(),
    Kind.STRING: st.text(max_size=20),
    Kind.BYTES: st.binary(max_size=40),
    # Open enums: any int32 value survives the round trip.
    Kind.ENUM: st.integers(-(2**31), 2**31 - 1),
}


def _value(wf: WireField, depth: int) -> st.SearchStrategy[Any]:
    if wf.kind is Kind.MESSAGE:
        return message_of(resolve(wf.target), depth + 1)
    return _SCALARS[wf.kind]


def message_of(cls: type, depth: int = 0) -> st.SearchStrategy[Any]:
    fields, oneofs = wire_fields(cls)
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for wf in fields:
        if wf.repeated:
            if wf.kind is Kind.MESSAGE and depth >= 3:
                kwargs[wf.name] = st.just(())  # recursive messages (Future) stop nesting here
            else:
                kwargs[wf.name] = st.lists(_value(wf, depth), max_size=3).map(tuple)
        elif wf.optional:
            kwargs[wf.name] = st.none() | _value(wf, depth)
        else:
            kwargs[wf.name] = _value(wf, depth)
    for name, one in oneofs:
        kwargs[name] = st.one_of(st.none(), *(_value(a, depth) for a in one.alternatives))
    if any(n == "requested_ack" for n in getattr(cls, "__dataclass_fields__", {})):
        kwargs["requested_ack"] = st.booleans()
    return st.builds(cls, **kwargs)


custom_entries = st.builds(CustomEntry, st.integers(0xFC00, 0xFFFF), st.binary(max_size=40))

any_message: st.SearchStrategy[ProtocolMessage] = st.one_of(
    *(message_of(cls) for cls in MESSAGE_CLASSES.values()), custom_entries
)
