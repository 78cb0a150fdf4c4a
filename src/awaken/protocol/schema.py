"""Frozen dataclasses that are protobuf messages: one definition gives the Python type and the wire.

Each protocol message is written once, as a frozen slotted dataclass whose fields carry their
protobuf field number and kind (`u32(11)`, `string(12)`, `oneof(...)`). From those classes this
module builds a protobuf descriptor at import time (`descriptor_pb2` + `message_factory`, no
`.proto` file, no generated code, no build step) and converts between the dataclasses and the
protobuf runtime's messages, which do the actual encoding and decoding.

Why dataclasses in front of protobuf's classes: the engine wants typed values it can `match` on
(`case SleepCommand(wake_up_time=t)`) and that mypy checks; protobuf's dynamic classes give
neither. The conversion costs a few microseconds per message.

Representation rules (the round trip `decode(encode(m)) == m` holds for every value these allow):
- proto3 scalars: plain `int` / `str` / `bytes` / `bool`, absent on the wire when zero-valued;
- `optional` scalars and message fields: `None` when absent;
- repeated fields: tuples;
- a oneof: one dataclass field typed as the union of its alternatives (told apart by Python type),
  `None` when unset;
- enums: open, as in proto3: known values come back as the IntEnum, unknown ones as plain ints.
Unknown fields sent by a newer peer are ignored.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message as PbMessage

from awaken.protocol.errors import MalformedMessage, MessageEncodeError

_PACKAGE = "awaken.protocol.wire"
_META = "awaken.protocol.wire"

FDP = descriptor_pb2.FieldDescriptorProto


class Kind(enum.Enum):
    U32 = FDP.TYPE_UINT32
    U64 = FDP.TYPE_UINT64
    BOOL = FDP.TYPE_BOOL
    STRING = FDP.TYPE_STRING
    BYTES = FDP.TYPE_BYTES
    ENUM = FDP.TYPE_ENUM
    MESSAGE = FDP.TYPE_MESSAGE


_PY_TYPES: dict[Kind, type] = {Kind.U32: int, Kind.U64: int, Kind.STRING: str, Kind.BYTES: bytes}


@dataclass(frozen=True, slots=True)
class WireField:
    """One protobuf field: its name on the wire is the dataclass field's (or the alternative's)."""

    name: str
    number: int
    kind: Kind
    repeated: bool = False
    optional: bool = False
    target: type | str | None = None  # message class (or its name, for recursion) / IntEnum class


@dataclass(frozen=True, slots=True)
class Oneof:
    alternatives: tuple[WireField, ...]


@dataclass(frozen=True, slots=True)
class HeaderFlag:
    """A dataclass field carried in the frame header's flags instead of the payload."""

    mask: int


def _field(spec: object, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata={_META: spec})
    return dataclasses.field(default=default, metadata={_META: spec})


def u32(number: int) -> Any:
    return _field(WireField("", number, Kind.U32), 0)


def u64(number: int) -> Any:
    return _field(WireField("", number, Kind.U64), 0)


def boolean(number: int) -> Any:
    return _field(WireField("", number, Kind.BOOL), False)


def string(number: int) -> Any:
    return _field(WireField("", number, Kind.STRING), "")


def bytes_(number: int) -> Any:
    return _field(WireField("", number, Kind.BYTES), b"")


def optional(number: int, kind: Kind) -> Any:
    """A proto3 `optional` scalar: `None` when absent."""
    return _field(WireField("", number, kind, optional=True), None)


def enum_(number: int, enum_cls: type[enum.IntEnum], default: enum.IntEnum) -> Any:
    return _field(WireField("", number, Kind.ENUM, target=enum_cls), default)


def message(number: int, cls: type | str) -> Any:
    """A singular message field: `None` when absent."""
    return _field(WireField("", number, Kind.MESSAGE, optional=True, target=cls), None)


def repeated(number: int, kind: Kind, cls: type | str | None = None) -> Any:
    return _field(WireField("", number, kind, repeated=True, target=cls), ())


def alt(name: str, number: int, kind: Kind, cls: type | str | None = None) -> WireField:
    """One alternative of a oneof."""
    return WireField(name, number, kind, target=cls)


def oneof(*alternatives: WireField) -> Any:
    return _field(Oneof(tuple(alternatives)), None)


def header_flag(mask: int) -> Any:
    return _field(HeaderFlag(mask), False)


@dataclass(slots=True)
class _Info:
    cls: type
    fields: list[WireField]
    oneofs: list[tuple[str, Oneof]]
    flags: list[tuple[str, int]]
    pb_class: type[PbMessage] | None = None


_REGISTRY: dict[type, _Info] = {}
_BY_NAME: dict[str, type] = {}
_ENUMS: dict[str, type[enum.IntEnum]] = {}
_sealed = False

T = TypeVar("T")


def wire(cls: type[T]) -> type[T]:
    """Register a dataclass (decorated with @dataclass first) as a protobuf message."""
    if _sealed:
        raise RuntimeError("the protocol schema is sealed")
    info = _Info(cls, [], [], [])
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec = f.metadata.get(_META)
        match spec:
            case WireField():
                info.fields.append(dataclasses.replace(spec, name=f.name))
            case Oneof():
                info.oneofs.append((f.name, spec))
            case HeaderFlag(mask=mask):
                info.flags.append((f.name, mask))
            case _:
                raise TypeError(f"{cls.__name__}.{f.name} has no wire spec")
    _REGISTRY[cls] = info
    _BY_NAME[cls.__name__] = cls
    return cls


def wire_enum(cls: type[enum.IntEnum]) -> type[enum.IntEnum]:
    _ENUMS[cls.__name__] = cls
    return cls


def _resolve(target: type | str | None) -> type:
    if isinstance(target, str):
        return _BY_NAME[target]
    assert target is not None
    return target


def _type_name(target: type | str | None) -> str:
    name = target if isinstance(target, str) else _resolve(target).__name__
    return f".{_PACKAGE}.{name}"


def _add_field(msg: descriptor_pb2.DescriptorProto, wf: WireField, oneof_index: int | None) -> None:
    fd = msg.field.add(name=wf.name, number=wf.number, type=wf.kind.value)
    fd.label = FDP.LABEL_REPEATED if wf.repeated else FDP.LABEL_OPTIONAL
    if wf.kind is Kind.MESSAGE:
        fd.type_name = _type_name(wf.target)
    elif wf.kind is Kind.ENUM:
        assert isinstance(wf.target, type)
        fd.type_name = f".{_PACKAGE}.{wf.target.__name__}"
    if oneof_index is not None:
        fd.oneof_index = oneof_index


def seal() -> None:
    """Build the descriptor pool from every registered class; called once, after the definitions."""
    global _sealed
    if _sealed:
        return
    file = descriptor_pb2.FileDescriptorProto(name="awaken_protocol_wire.proto", package=_PACKAGE)
    file.syntax = "proto3"
    for enum_cls in _ENUMS.values():
        ed = file.enum_type.add(name=enum_cls.__name__)
        for member in enum_cls:
            ed.value.add(name=f"{enum_cls.__name__.upper()}_{member.name}", number=int(member))
    for info in _REGISTRY.values():
        msg = file.message_type.add(name=info.cls.__name__)
        for oneof_name, one in info.oneofs:
            index = len(msg.oneof_decl)
            msg.oneof_decl.add(name=oneof_name)
            for wf in one.alternatives:
                _add_field(msg, wf, index)
        # Synthetic oneofs of proto3 `optional` scalars must come after the real ones.
        for wf in info.fields:
            if wf.optional and wf.kind is not Kind.MESSAGE:
                index = len(msg.oneof_decl)
                msg.oneof_decl.add(name=f"_{wf.name}")
                _add_field(msg, wf, index)
                msg.field[-1].proto3_optional = True
            else:
                _add_field(msg, wf, None)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    for info in _REGISTRY.values():
        descriptor = pool.FindMessageTypeByName(f"{_PACKAGE}.{info.cls.__name__}")
        info.pb_class = message_factory.GetMessageClass(descriptor)
    _sealed = True


def _alt_for(one: Oneof, value: object) -> WireField:
    for wf in one.alternatives:
        if wf.kind is Kind.MESSAGE:
            if type(value) is _resolve(wf.target):
                return wf
        elif type(value) is _PY_TYPES[wf.kind] or (
            wf.kind in (Kind.U32, Kind.U64) and isinstance(value, int) and not isinstance(value, bool)
        ):
            return wf
    raise MessageEncodeError(f"{type(value).__name__} is not an alternative of this oneof")


def _to_pb(obj: object) -> PbMessage:
    info = _REGISTRY[type(obj)]
    kwargs: dict[str, Any] = {}
    for wf in info.fields:
        value = getattr(obj, wf.name)
        if wf.repeated:
            if value:
                kwargs[wf.name] = [_to_pb(v) for v in value] if wf.kind is Kind.MESSAGE else list(value)
        elif value is None:
            continue
        elif wf.kind is Kind.MESSAGE:
            kwargs[wf.name] = _to_pb(value)
        elif wf.optional or value:
            kwargs[wf.name] = value
    for oneof_name, one in info.oneofs:
        value = getattr(obj, oneof_name)
        if value is not None:
            wf = _alt_for(one, value)
            kwargs[wf.name] = _to_pb(value) if wf.kind is Kind.MESSAGE else value
    assert info.pb_class is not None
    return info.pb_class(**kwargs)


def _enum_value(enum_cls: type[enum.IntEnum], raw: int) -> int:
    try:
        return enum_cls(raw)
    except ValueError:
        return raw


def _from_pb(cls: type[T], pb: Any) -> T:
    info = _REGISTRY[cls]
    kwargs: dict[str, Any] = {}
    for wf in info.fields:
        name = wf.name
        if wf.repeated:
            raw = getattr(pb, name)
            if wf.kind is Kind.MESSAGE:
                target = _resolve(wf.target)
                kwargs[name] = tuple(_from_pb(target, v) for v in raw)
            else:
                kwargs[name] = tuple(raw)
        elif wf.optional:
            if not pb.HasField(name):
                kwargs[name] = None
            elif wf.kind is Kind.MESSAGE:
                kwargs[name] = _from_pb(_resolve(wf.target), getattr(pb, name))
            else:
                kwargs[name] = getattr(pb, name)
        elif wf.kind is Kind.ENUM:
            assert isinstance(wf.target, type)
            kwargs[name] = _enum_value(wf.target, getattr(pb, name))
        else:
            kwargs[name] = getattr(pb, name)
    for oneof_name, one in info.oneofs:
        which = pb.WhichOneof(oneof_name)
        if which is None:
            kwargs[oneof_name] = None
            continue
        wf = next(a for a in one.alternatives if a.name == which)
        value = getattr(pb, which)
        kwargs[oneof_name] = _from_pb(_resolve(wf.target), value) if wf.kind is Kind.MESSAGE else value
    return cls(**kwargs)


def encode_payload(obj: object) -> bytes:
    """The protobuf encoding of a registered dataclass (header flags excluded)."""
    if type(obj) not in _REGISTRY:
        raise MessageEncodeError(f"{type(obj).__name__} is not a protocol message")
    try:
        return _to_pb(obj).SerializeToString()
    except MessageEncodeError:
        raise
    except Exception as exc:  # protobuf raises TypeError/ValueError for bad field values
        raise MessageEncodeError(f"cannot encode {type(obj).__name__}: {exc}") from exc


def decode_payload(cls: type[T], payload: bytes, flags: dict[str, bool] | None = None) -> T:
    """Parse `payload` as the protobuf of `cls`; any failure is a `MalformedMessage`."""
    info = _REGISTRY[cls]
    assert info.pb_class is not None
    pb = info.pb_class()
    try:
        pb.ParseFromString(payload)
        obj = _from_pb(cls, pb)
    except Exception as exc:  # DecodeError, RecursionError on absurd nesting, bad UTF-8, ...
        raise MalformedMessage(f"malformed {cls.__name__} payload: {exc}") from exc
    if flags:
        obj = dataclasses.replace(obj, **flags)  # type: ignore[type-var]
    return obj


def header_flags_of(cls: type) -> list[tuple[str, int]]:
    return _REGISTRY[cls].flags


def registered() -> list[type]:
    return list(_REGISTRY)


def wire_fields(cls: type) -> tuple[list[WireField], list[tuple[str, Oneof]]]:
    """The wire description of a registered class (for tests that generate arbitrary messages)."""
    info = _REGISTRY[cls]
    return list(info.fields), list(info.oneofs)


def resolve(target: type | str | None) -> type:
    return _resolve(target)
