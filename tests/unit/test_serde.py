"""DefaultSerde decodes as restate-sdk's does: models, dataclasses and msgspec Structs validated,
everything else plain JSON; schemas for every hint that has one, on Python 3.11 too."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from dataclasses import dataclass

import dacite
import msgspec
import pytest
from pydantic import BaseModel, ValidationError

import awaken
from awaken.sdk.serde import DefaultSerde, MsgspecJsonSerde, PydanticJsonSerde, json_schema_for


class Inner(typing.TypedDict):
    n: int


class Outer(typing.TypedDict, total=False):
    inner: Inner
    tag: str


class WithOptional(typing.TypedDict):
    name: str
    note: typing.Optional[str]  # noqa: UP045 (the spelling restate's test services use)


@dataclass
class Point:
    x: int
    y: int


class Model(BaseModel):
    name: str


class Struct(msgspec.Struct):
    name: str
    size: int = 0


class Opaque:
    """Neither JSON nor a model: nothing can decode into it but plain JSON."""


def test_typeddicts_are_plain_json_as_in_restate_sdk() -> None:
    # restate-sdk decodes a TypedDict with json.loads: missing or mistyped keys are the handler's
    assert DefaultSerde(WithOptional).deserialize(b'{"name": "a"}') == {"name": "a"}
    assert DefaultSerde(Outer).deserialize(b'{"inner": {"n": "x"}}') == {"inner": {"n": "x"}}
    assert DefaultSerde(str).deserialize(b"5") == 5  # a hint that is no model decodes nothing


@pytest.mark.parametrize(
    "hint",
    [Outer, list[Inner], Iterable[Inner], typing.Optional[Inner], typing.Union[Inner, Outer], int],  # noqa: UP007, UP045
)
def test_typeddicts_inside_generics_have_schemas_on_python_311(hint: object) -> None:
    schema = json_schema_for(hint)
    assert schema is not None and schema != {}


def test_models_dataclasses_and_structs_are_validated() -> None:
    with pytest.raises(ValidationError):
        DefaultSerde(Model).deserialize(b'{"name": 1}')
    with pytest.raises(dacite.DaciteError):
        DefaultSerde(Point).deserialize(b'{"x": "1", "y": 2}')  # dacite does not coerce
    assert DefaultSerde(Point).deserialize(b'{"x": 1, "y": 2, "z": 3}') == Point(1, 2)
    with pytest.raises(msgspec.ValidationError):
        DefaultSerde(Struct).deserialize(b'{"size": 1}')
    assert DefaultSerde(Struct).deserialize(b'{"name": "a"}') == Struct("a")
    assert json_schema_for(Struct) is not None and json_schema_for(Model) is not None


@pytest.mark.parametrize(
    ("hint", "value", "raw"),
    [
        (Point, Point(1, 2), b'{"x":1,"y":2}'),  # compact JSON (restate-sdk writes spaces)
        (Model, Model(name="a"), b'{"name":"a"}'),
        (Struct, Struct("a", 2), b'{"name":"a","size":2}'),
        (list[int], [1, 2], b"[1,2]"),
        (None, {"a": [1, None]}, b'{"a":[1,null]}'),
    ],
)
def test_round_trips(hint: object, value: object, raw: bytes) -> None:
    serde: DefaultSerde[object] = DefaultSerde(hint)
    assert serde.serialize(value) == raw
    assert serde.deserialize(raw) == value


def test_values_json_refuses_are_still_encoded() -> None:
    # restate-sdk's json.dumps would fail the attempt (and retry it forever) on these
    assert DefaultSerde(list[Model]).serialize([Model(name="a")]) == b'[{"name":"a"}]'
    assert DefaultSerde(None).serialize(Point(1, 2)) == b'{"x":1,"y":2}'


def test_none_is_empty_bytes() -> None:
    assert DefaultSerde(int).serialize(None) == b""
    assert DefaultSerde(int).deserialize(b"") is None
    assert DefaultSerde(Model).deserialize(b"") is None


def test_handlers_pick_serdes_as_restate_sdk_does() -> None:
    svc = awaken.Service("serde-choice")

    @svc.handler()
    async def model_in(ctx: awaken.Context, m: typing.Optional[Model]) -> Struct:  # noqa: UP045
        return Struct(m.name if m else "")

    @svc.handler()
    async def opaque(ctx: awaken.Context, x: Opaque) -> Opaque:  # accepted, as restate-sdk does
        return x

    spec = svc.handlers["model_in"]
    assert isinstance(spec.input_serde, PydanticJsonSerde) and spec.input_type is Model
    assert isinstance(spec.output_serde, MsgspecJsonSerde)
    assert svc.handlers["opaque"].decode_input(b'{"a": 1}') == {"a": 1}
    assert svc.handlers["opaque"].input_schema is None
