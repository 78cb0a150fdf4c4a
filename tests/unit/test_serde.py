from __future__ import annotations

import typing
from dataclasses import dataclass

import pytest
from pydantic import BaseModel, ValidationError

import awaken
from awaken.sdk.serde import DefaultSerde, json_schema_for


class Inner(typing.TypedDict):
    n: int


class Outer(typing.TypedDict, total=False):
    inner: Inner
    tag: str


@dataclass
class Point:
    x: int
    y: int


class Model(BaseModel):
    name: str


class Opaque:
    """Neither JSON nor a model: pydantic cannot serialize it."""


def test_typing_typeddict_is_validated_on_python_311() -> None:
    serde: DefaultSerde[Outer] = DefaultSerde(Outer)
    assert serde.deserialize(b'{"inner": {"n": 1}}') == {"inner": {"n": 1}}
    assert serde.deserialize(b"{}") == {}  # total=False: no key is required
    with pytest.raises(ValidationError):
        serde.deserialize(b'{"inner": {"n": "x"}}')  # the nested TypedDict is validated too
    assert json_schema_for(Outer) is not None


@pytest.mark.parametrize(
    ("hint", "value", "raw"),
    [
        (Point, Point(1, 2), b'{"x":1,"y":2}'),
        (Model, Model(name="a"), b'{"name":"a"}'),
        (list[int], [1, 2], b"[1,2]"),
        (None, {"a": [1, None]}, b'{"a": [1, null]}'),
    ],
)
def test_round_trips(hint: object, value: object, raw: bytes) -> None:
    serde: DefaultSerde[object] = DefaultSerde(hint)
    assert serde.serialize(value) == raw
    assert serde.deserialize(raw) == value


def test_none_is_empty_bytes() -> None:
    assert DefaultSerde(int).serialize(None) == b""
    assert DefaultSerde(int).deserialize(b"") is None


def test_unsupported_handler_types_fail_at_declaration() -> None:
    svc = awaken.Service("bad-types")

    with pytest.raises(TypeError, match="unsupported input type"):

        @svc.handler()
        async def h(ctx: awaken.Context, x: Opaque) -> None:
            return None
