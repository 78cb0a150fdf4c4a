"""Serialization of handler inputs, outputs, step results, state and awakeable payloads.

Same names and behaviour as the restate-sdk package: JSON by default, empty bytes mean None;
a type hint (Pydantic model, dataclass, TypedDict, plain JSON types) selects validated decoding,
done here with one pydantic TypeAdapter per type.
"""

from __future__ import annotations

import abc
import json
import sys
import typing
from functools import lru_cache
from typing import Any, Generic, NotRequired, TypeVar

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741

_UNTYPED = (None, Any, object)


@lru_cache(maxsize=512)
def _adapter(type_hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(_pydantic_compatible(type_hint))


def _pydantic_compatible(type_hint: Any) -> Any:
    """pydantic refuses `typing.TypedDict` before Python 3.12: rebuild it, field by field, as
    the `typing_extensions.TypedDict` it accepts (nested ones too)."""
    if sys.version_info >= (3, 12) or not typing.is_typeddict(type_hint):
        return type_hint
    if type_hint.__module__ == "typing_extensions" or "typing_extensions" in repr(type(type_hint)):
        return type_hint
    hints = typing.get_type_hints(type_hint)
    required = getattr(type_hint, "__required_keys__", frozenset(hints))
    fields = {
        name: (_pydantic_compatible(t) if name in required else NotRequired[_pydantic_compatible(t)])
        for name, t in hints.items()
    }
    return TypedDict(type_hint.__name__, fields)  # type: ignore[operator]


def check_type(type_hint: Any) -> None:
    """Raise TypeError now if values of this type hint cannot be (de)serialized."""
    if is_typed(type_hint):
        try:
            _adapter(type_hint)
        except Exception as exc:
            raise TypeError(f"type {type_hint!r} cannot be serialized: {exc}") from exc


def is_typed(type_hint: Any) -> bool:
    return type_hint not in _UNTYPED and type_hint is not type(None)


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
        return _adapter(type_hint).json_schema()
    except Exception:
        return None


class Serde(Generic[T], abc.ABC):
    """Turns values into bytes and back."""

    @abc.abstractmethod
    def deserialize(self, buf: bytes) -> T | None: ...

    @abc.abstractmethod
    def serialize(self, obj: T | None) -> bytes: ...


class BytesSerde(Serde[bytes]):
    def deserialize(self, buf: bytes) -> bytes | None:
        return buf

    def serialize(self, obj: bytes | None) -> bytes:
        return obj or b""


class JsonSerde(Serde[I]):
    def deserialize(self, buf: bytes) -> I | None:
        if not buf:
            return None
        value: I = json.loads(buf)
        return value

    def serialize(self, obj: I | None) -> bytes:
        if obj is None:
            return b""
        return json.dumps(obj).encode()


class DefaultSerde(Serde[I]):
    """JSON; with a type hint, validated (de)serialization through pydantic."""

    def __init__(self, type_hint: Any = None) -> None:
        self.type_hint = type_hint

    def with_maybe_type(self, type_hint: Any = None) -> DefaultSerde[I]:
        return DefaultSerde(type_hint)

    def deserialize(self, buf: bytes) -> I | None:
        if not buf:
            return None
        if not is_typed(self.type_hint):
            value: I = json.loads(buf)
            return value
        typed: I = _adapter(self.type_hint).validate_json(buf)
        return typed

    def serialize(self, obj: I | None) -> bytes:
        if obj is None:
            return b""
        if is_typed(self.type_hint):
            # warnings off: a step's untyped result (a dict) may stand for the hinted model
            return _adapter(self.type_hint).dump_json(obj, warnings=False)
        try:
            return json.dumps(obj).encode()
        except TypeError:
            # a model or dataclass returned from an untyped function
            adapter: TypeAdapter[Any] = _adapter(typing.cast(Any, type(obj)))
            return adapter.dump_json(obj)


class PydanticJsonSerde(Serde[I]):
    def __init__(self, model: Any) -> None:
        self.model = model

    def deserialize(self, buf: bytes) -> I | None:
        if not buf:
            return None
        value: I = _adapter(self.model).validate_json(buf)
        return value

    def serialize(self, obj: I | None) -> bytes:
        if obj is None:
            return b""
        return _adapter(self.model).dump_json(obj)


def resolve_serde(serde: Serde[Any] | None, type_hint: Any) -> Serde[Any]:
    """The serde to use: an explicit non-default serde wins; else DefaultSerde(type_hint)."""
    if serde is not None and not (isinstance(serde, DefaultSerde) and serde.type_hint is None):
        return serde
    return DefaultSerde(type_hint)


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors(include_url=False)
    ]
