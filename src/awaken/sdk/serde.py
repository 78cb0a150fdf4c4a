"""Serialization of handler inputs, outputs, step results, state and awakeable payloads.

Decoding is restate-sdk's `DefaultSerde`, exactly: empty bytes are None; with a type hint, a
Pydantic model is validated (`model_validate_json`), a dataclass is built with dacite's
`from_dict`, a msgspec Struct is decoded by `msgspec.json`, and everything else (plain types,
TypedDicts, generics) is plain `json.loads`, so what restate-sdk accepts awaken accepts.

Encoding follows it too (Pydantic and msgspec by their own encoders, dataclasses through
`asdict`, the rest `json.dumps`), and then goes one step further: a value `json.dumps` refuses (a
model inside a list, say) is encoded by pydantic instead of failing the attempt.

JSON schemas (for the admin API and for typed awakeables, which validate their payload when it
arrives) come from msgspec for Structs and from pydantic for everything else; a hint that has no
schema gets None, never an error.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Generic, NotRequired, TypeVar

import dacite
import pydantic_core
from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypedDict

try:  # msgspec is optional: `pip install awaken[serde]`
    import msgspec
except ImportError:  # pragma: no cover - exercised where msgspec is not installed
    msgspec = None  # type: ignore[assignment]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741

_UNTYPED = (None, Any, object)


def is_pydantic(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def is_msgspec_struct(hint: Any) -> bool:
    return msgspec is not None and isinstance(hint, type) and issubclass(hint, msgspec.Struct)


def is_typed(type_hint: Any) -> bool:
    return type_hint not in _UNTYPED and type_hint is not type(None)


def core_type(hint: Any) -> Any:
    """`Optional[T]` (or `T | None`) -> T; anything else unchanged (restate-sdk's rule)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if len(args) == 2 and type(None) in args:
            return args[0] if args[1] is type(None) else args[1]
    return hint


# -- JSON schemas --------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _adapter(type_hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(_pydantic_compatible(type_hint))


def _pydantic_compatible(hint: Any) -> Any:
    """pydantic refuses `typing.TypedDict` before Python 3.12, also inside generics: rebuild each
    as the `typing_extensions.TypedDict` it accepts, down the whole hint."""
    if sys.version_info >= (3, 12):
        return hint
    if typing.is_typeddict(hint):
        if "typing_extensions" in repr(type(hint)):
            return hint
        hints = typing.get_type_hints(hint)
        required = getattr(hint, "__required_keys__", frozenset(hints))
        fields = {
            name: (_pydantic_compatible(t) if name in required else NotRequired[_pydantic_compatible(t)])
            for name, t in hints.items()
        }
        return TypedDict(hint.__name__, fields)  # type: ignore[operator]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is None or not args:
        return hint
    rebuilt = tuple(_pydantic_compatible(a) for a in args)
    if rebuilt == args:
        return hint
    if origin in (typing.Union, types.UnionType):
        return typing.Union[rebuilt]  # noqa: UP007 (a runtime rebuild of a union)
    if origin is typing.Literal:
        return hint
    try:
        return hint.copy_with(rebuilt)
    except AttributeError:
        return origin[rebuilt]


def json_schema_for(type_hint: Any) -> dict[str, Any] | None:
    """The JSON schema of a type hint, or None when untyped or not representable."""
    if not is_typed(type_hint):
        return None
    try:
        return _cached_schema(type_hint)
    except TypeError:  # an unhashable hint: compute it every time
        return _schema(type_hint)


@lru_cache(maxsize=512)
def _cached_schema(type_hint: Any) -> dict[str, Any] | None:
    # Building a schema costs ~100 us; awakeables ask for it at every creation.
    return _schema(type_hint)


def _schema(type_hint: Any) -> dict[str, Any] | None:
    try:
        if is_msgspec_struct(type_hint):
            schema: dict[str, Any] = msgspec.json.schema(type_hint)
            return schema
        if is_pydantic(type_hint):
            model: dict[str, Any] = type_hint.model_json_schema(mode="serialization")
            return model
        return _adapter(type_hint).json_schema()
    except Exception:
        return None


# -- serdes --------------------------------------------------------------------------------------


class Serde(Generic[T], abc.ABC):
    """Turns values into bytes and back."""

    @abc.abstractmethod
    def deserialize(self, buf: bytes) -> T | None: ...

    @abc.abstractmethod
    def serialize(self, obj: T | None) -> bytes: ...


class BytesSerde(Serde[bytes]):
    """Bytes as they are."""

    def deserialize(self, buf: bytes) -> bytes | None:
        return buf

    def serialize(self, obj: bytes | None) -> bytes:
        return obj or b""


class JsonSerde(Serde[I]):
    """Plain JSON, no type."""

    def deserialize(self, buf: bytes) -> I | None:
        if not buf:
            return None
        value: I = json.loads(buf)
        return value

    def serialize(self, obj: I | None) -> bytes:
        if obj is None:
            return b""
        return json.dumps(obj).encode()


_PLAIN = frozenset({str, int, float, bool, list, dict})  # what JSON writes as it is


def _loads(buf: bytes) -> Any:
    """Plain JSON to Python values, as json.loads gives them (pydantic-core's parser: the same
    values, 10 to 20 times faster on this hot path)."""
    try:
        return pydantic_core.from_json(buf)
    except ValueError:
        return json.loads(buf)  # its error message, and the rare input only it reads (UTF-16)


def _decoder_for(hint: Any) -> Callable[[bytes], Any]:
    if is_msgspec_struct(hint):
        return lambda buf: msgspec.json.decode(buf, type=hint)
    if is_pydantic(hint):
        validate: Callable[[bytes], Any] = hint.model_validate_json
        return validate
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return lambda buf: dacite.from_dict(hint, json.loads(buf))
    return _loads


def _encode_any(obj: Any, hint: Any = None) -> bytes:
    if isinstance(obj, BaseModel):
        return obj.model_dump_json().encode()
    if is_msgspec_struct(type(obj)):
        encoded: bytes = msgspec.json.encode(obj)
        return encoded
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _dumps(dataclasses.asdict(obj))
    if is_pydantic(hint):
        # a dict (a step's untyped result, say) standing for the hinted model
        return _adapter(hint).dump_json(obj, warnings=False)
    return _dumps(obj)


def _dumps(obj: Any) -> bytes:
    try:
        # compact JSON, UTF-8: what json.dumps means, written several times faster
        return pydantic_core.to_json(obj)
    except pydantic_core.PydanticSerializationError:
        # a value json cannot write (models in a list, a datetime...): pydantic can
        adapter: TypeAdapter[Any] = _adapter(typing.cast(Any, type(obj)))
        return adapter.dump_json(obj)


class DefaultSerde(Serde[I]):
    """restate-sdk's default: picks the codec from the type hint (see the module docstring)."""

    def __init__(self, type_hint: Any = None) -> None:
        self.type_hint = type_hint
        # The hint is fixed: pick its codec once, not at every value (this runs per step).
        self._decode = _decoder_for(type_hint)
        self._plain_ok = not is_pydantic(type_hint)

    def with_maybe_type(self, type_hint: Any = None) -> DefaultSerde[I]:
        return DefaultSerde(type_hint)

    def deserialize(self, buf: bytes) -> I | None:
        if not buf:
            return None
        return typing.cast(I, self._decode(buf))

    def serialize(self, obj: I | None) -> bytes:
        if obj is None:
            return b""
        if self._plain_ok and type(obj) in _PLAIN:
            return _dumps(obj)
        return _encode_any(obj, self.type_hint)


class PydanticJsonSerde(Serde[I]):
    """A Pydantic model as JSON."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def deserialize(self, buf: bytes) -> I | None:
        if not buf:
            return None
        return typing.cast(I, self.model.model_validate_json(buf))

    def serialize(self, obj: I | None) -> bytes:
        if obj is None:
            return b""
        return _encode_any(obj, self.model)


class MsgspecJsonSerde(Serde[I]):
    """A msgspec Struct as JSON (needs msgspec: `pip install awaken[serde]`)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def deserialize(self, buf: bytes) -> I | None:
        if not buf:
            return None
        if msgspec is None:
            raise RuntimeError("msgspec is not installed: pip install 'awaken[serde]'")
        return typing.cast(I, msgspec.json.decode(buf, type=self.model))

    def serialize(self, obj: I | None) -> bytes:
        if obj is None:
            return b""
        if msgspec is None:
            raise RuntimeError("msgspec is not installed: pip install 'awaken[serde]'")
        encoded: bytes = msgspec.json.encode(obj)
        return encoded


def resolve_serde(serde: Serde[Any] | None, type_hint: Any) -> Serde[Any]:
    """The serde to use: an explicit non-default serde wins; else DefaultSerde(type_hint)."""
    if serde is not None and not (isinstance(serde, DefaultSerde) and serde.type_hint is None):
        return serde
    return DefaultSerde(type_hint)


def handler_serde(serde: Serde[Any], hint: Any) -> Serde[Any]:
    """A handler's input or output serde, chosen as restate-sdk does from its annotation
    (`Optional[T]` counts as T): an explicit serde wins; msgspec Structs and Pydantic models get
    their own serde; anything else the default one with the hint."""
    if not isinstance(serde, DefaultSerde) or serde.type_hint is not None:
        return serde
    core = core_type(hint)
    if is_msgspec_struct(core):
        return MsgspecJsonSerde(core)
    if is_pydantic(core):
        return PydanticJsonSerde(core)
    return DefaultSerde(core)
