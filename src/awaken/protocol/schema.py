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
from collections.abc import Callable
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
    to_pb: Callable[[Any], PbMessage] | None = None
    from_pb: Callable[[Any], Any] | None = None


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
    _compile_converters()
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


def _enum_value(enum_cls: type[enum.IntEnum], raw: int) -> int:
    try:
        return enum_cls(raw)
    except ValueError:
        return raw


# -- converters, generated per class at seal() ---------------------------------------------------
#
# Each registered class gets two functions written out field by field (as `dataclasses` writes
# `__init__`): `to_<Name>(obj)` builds the protobuf message, `from_<Name>(pb)` the dataclass. A
# loop over the field descriptions, deciding each field's kind on every message, cost several
# times more, and every message the SDKs exchange with the runtime goes through one of them.


def _oneof_encoder(one: Oneof, ns: dict[str, Any]) -> Callable[[object], tuple[str, Any]]:
    """(field name, protobuf value) of the alternative a oneof's value is."""
    by_type: dict[type, tuple[str, Callable[[Any], Any] | None]] = {}
    for wf in one.alternatives:
        if wf.kind is Kind.MESSAGE:
            by_type[_resolve(wf.target)] = (wf.name, None)
        elif _PY_TYPES.get(wf.kind) is not None:
            by_type.setdefault(_PY_TYPES[wf.kind], (wf.name, None))

    def encode(value: object) -> tuple[str, Any]:
        found = by_type.get(type(value))
        name = found[0] if found is not None else _alt_for(one, value).name
        target = type(value)
        return name, ns[f"to_{target.__name__}"](value) if target in _REGISTRY else value

    return encode


def _oneof_decoder(one: Oneof, ns: dict[str, Any]) -> Callable[[Any, str], Any]:
    """The dataclass value of the alternative `which` that a protobuf message holds."""
    messages = {wf.name: _resolve(wf.target).__name__ for wf in one.alternatives if wf.kind is Kind.MESSAGE}

    def decode(pb: Any, which: str) -> Any:
        value = getattr(pb, which)
        target = messages.get(which)
        return ns[f"from_{target}"](value) if target is not None else value

    return decode


def _write_converters(info: _Info, ns: dict[str, Any]) -> tuple[str, str]:
    name = info.cls.__name__
    ns[f"cls_{name}"] = info.cls
    ns[f"pb_{name}"] = info.pb_class
    enc = [f"def to_{name}(obj):", "    kw = {}"]
    dec = [f"def from_{name}(pb):", "    has = pb.HasField"]
    args = []
    for wf in info.fields:
        f = wf.name
        target = _resolve(wf.target).__name__ if wf.kind is Kind.MESSAGE else None
        enc.append(f"    v = obj.{f}")
        if wf.repeated:
            if target is not None:
                enc.append(f"    if v: kw[{f!r}] = [to_{target}(x) for x in v]")
                args.append(f"{f}=tuple([from_{target}(x) for x in pb.{f}])")
            else:
                enc.append(f"    if v: kw[{f!r}] = list(v)")
                args.append(f"{f}=tuple(pb.{f})")
        elif target is not None:
            enc.append(f"    if v is not None: kw[{f!r}] = to_{target}(v)")
            args.append(f"{f}=from_{target}(pb.{f}) if has({f!r}) else None")
        elif wf.optional:
            enc.append(f"    if v is not None: kw[{f!r}] = v")
            args.append(f"{f}=pb.{f} if has({f!r}) else None")
        elif wf.kind is Kind.ENUM:
            assert isinstance(wf.target, type)
            ns[f"enum_{name}_{f}"] = wf.target
            enc.append(f"    if v: kw[{f!r}] = v")
            args.append(f"{f}=enum_value(enum_{name}_{f}, pb.{f})")
        else:
            enc.append(f"    if v: kw[{f!r}] = v")
            args.append(f"{f}=pb.{f}")
    for oneof_name, one in info.oneofs:
        ns[f"oneof_enc_{name}_{oneof_name}"] = _oneof_encoder(one, ns)
        ns[f"oneof_dec_{name}_{oneof_name}"] = _oneof_decoder(one, ns)
        enc.append(f"    v = obj.{oneof_name}")
        enc.append("    if v is not None:")
        enc.append(f"        k, v = oneof_enc_{name}_{oneof_name}(v)")
        enc.append("        kw[k] = v")
        dec.append(f"    which_{oneof_name} = pb.WhichOneof({oneof_name!r})")
        args.append(
            f"{oneof_name}=None if which_{oneof_name} is None "
            f"else oneof_dec_{name}_{oneof_name}(pb, which_{oneof_name})"
        )
    enc.append(f"    return pb_{name}(**kw)")
    dec.append(f"    return cls_{name}(" + ", ".join(args) + ")")
    return "\n".join(enc), "\n".join(dec)


def _compile_converters() -> None:
    ns: dict[str, Any] = {"enum_value": _enum_value}
    source: list[str] = []
    for info in _REGISTRY.values():
        source.extend(_write_converters(info, ns))
    exec(compile("\n\n".join(source), "<awaken.protocol.schema converters>", "exec"), ns)
    for info in _REGISTRY.values():
        info.to_pb = ns[f"to_{info.cls.__name__}"]
        info.from_pb = ns[f"from_{info.cls.__name__}"]


def _to_pb(obj: object) -> PbMessage:
    to_pb = _REGISTRY[type(obj)].to_pb
    assert to_pb is not None
    return to_pb(obj)


def _from_pb(cls: type[T], pb: Any) -> T:
    from_pb = _REGISTRY[cls].from_pb
    assert from_pb is not None
    return from_pb(pb)  # type: ignore[no-any-return]


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
