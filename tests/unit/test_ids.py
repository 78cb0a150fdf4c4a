"""Invocation ids (Restate's `inv_1…` format) and awakeable ids (`sign_1…`, 28 random bytes)."""

from __future__ import annotations

import base64
import os
import re
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from awaken.core.ids import (
    AWAKEABLE_RANDOM_BYTES,
    INVOCATION_ID_LENGTH,
    InvocationId,
    idempotent_invocation_id,
    new_awakeable_id,
    new_invocation_id,
    parse_awakeable_id,
    workflow_invocation_id,
)
from awaken.errors import BadRequest

B62 = string.digits + string.ascii_lowercase + string.ascii_uppercase
B64URL = string.ascii_letters + string.digits + "-_"

# Example ids from Restate's documentation, with the UUIDs they carry (both ULIDs of 2024).
RESTATE_IDS = {
    "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz": "018e5257b998007db7f4f3f47e809584",
    "inv_1aiqX0vFEFNH1Umgre58JiCLgHfTtztYK5": "018ee70d4997d0297898bd5c976db93e",
}

partition_keys = st.integers(min_value=0, max_value=2**64 - 1)
uuids = st.binary(min_size=16, max_size=16)
random28 = st.binary(min_size=AWAKEABLE_RANDOM_BYTES, max_size=AWAKEABLE_RANDOM_BYTES)


def _a_valid_id() -> str:
    return str(InvocationId(12345, bytes(range(16))))


# -- invocation ids ----------------------------------------------------------------------------


@given(partition_keys, uuids)
def test_invocation_id_round_trips(partition_key: int, uuid: bytes) -> None:
    inv = InvocationId(partition_key, uuid)
    text = str(inv)
    assert len(text) == INVOCATION_ID_LENGTH == 38
    assert text.startswith("inv_1")
    assert set(text[5:]) <= set(B62)
    parsed = InvocationId.parse(text)
    assert parsed == inv
    assert str(parsed) == text


@given(st.text(alphabet=B62, min_size=33, max_size=33))
def test_any_base62_body_either_round_trips_exactly_or_is_rejected(body: str) -> None:
    text = "inv_1" + body
    try:
        parsed = InvocationId.parse(text)
    except BadRequest:
        return  # a field overflows its integer width
    assert 0 <= parsed.partition_key < 2**64
    assert len(parsed.uuid) == 16
    assert str(parsed) == text


def test_extreme_values_round_trip() -> None:
    for pk, uu in [(0, bytes(16)), (2**64 - 1, b"\xff" * 16), (1, b"\x00" * 15 + b"\x01")]:
        inv = InvocationId(pk, uu)
        assert InvocationId.parse(str(inv)) == inv


def test_all_zero_id_is_zero_padded() -> None:
    assert str(InvocationId(0, bytes(16))) == "inv_1" + "0" * 33


def test_encoding_byte_swaps_each_field() -> None:
    # Restate encodes `to_be()` of the integer on a little-endian host: the value 1 as a u64 becomes
    # 0x0100000000000000 = 2**56 before base62.
    text = str(InvocationId(1, bytes(16)))
    pk_field = text[5:16]
    value = 0
    for c in pk_field:
        value = value * 62 + B62.index(c)
    assert value == 2**56


@pytest.mark.parametrize("text", sorted(RESTATE_IDS))
def test_real_restate_ids_parse_and_reencode_identically(text: str) -> None:
    assert len(text) == INVOCATION_ID_LENGTH
    parsed = InvocationId.parse(text)
    assert str(parsed) == text
    assert parsed.uuid.hex() == RESTATE_IDS[text]
    assert 0 <= parsed.partition_key < 2**64


def test_new_invocation_id_is_ulid_like_and_pure() -> None:
    random16 = bytes(range(100, 116))
    now_ms = 1_712_000_000_000
    text = new_invocation_id(now_ms, random16)
    assert len(text) == INVOCATION_ID_LENGTH
    assert new_invocation_id(now_ms, random16) == text
    parsed = InvocationId.parse(text)
    assert int.from_bytes(parsed.uuid[:6], "big") == now_ms
    assert parsed.uuid[6:] == random16[:10]
    assert new_invocation_id(now_ms, bytes(range(16))) != text
    assert new_invocation_id(now_ms + 1, random16) != text


@given(st.integers(min_value=0, max_value=2**48 - 1), uuids)
def test_new_invocation_ids_always_parse(now_ms: int, random16: bytes) -> None:
    text = new_invocation_id(now_ms, random16)
    assert str(InvocationId.parse(text)) == text


def test_deterministic_ids_are_stable_and_well_formed() -> None:
    a = idempotent_invocation_id("Greeter", None, "greet", "ik-1")
    assert a == idempotent_invocation_id("Greeter", None, "greet", "ik-1")
    w = workflow_invocation_id("Signup", "alice")
    assert w == workflow_invocation_id("Signup", "alice")
    for text in (a, w):
        assert len(text) == INVOCATION_ID_LENGTH
        assert str(InvocationId.parse(text)) == text


def test_deterministic_ids_differ_per_input() -> None:
    base = ("Counter", "k", "add", "ik")
    variants = [
        base,
        ("Counter2", "k", "add", "ik"),
        ("Counter", "k2", "add", "ik"),
        ("Counter", None, "add", "ik"),
        ("Counter", "k", "sub", "ik"),
        ("Counter", "k", "add", "ik2"),
    ]
    ids = {idempotent_invocation_id(*v) for v in variants}
    assert len(ids) == len(variants)
    wf = {workflow_invocation_id("Signup", "alice"), workflow_invocation_id("Signup", "bob")}
    wf.add(workflow_invocation_id("Other", "alice"))
    assert len(wf) == 3
    # The two kinds of deterministic id live in separate namespaces.
    assert workflow_invocation_id("S", "k") != idempotent_invocation_id("S", "k", "run", "")
    assert not ids & wf


# Lone surrogates are left out: they cannot be UTF-8 encoded, and the ingress never produces them.
no_comma = st.text(alphabet=st.characters(blacklist_characters=",", blacklist_categories=["Cs"]), max_size=8)


@given(
    st.tuples(no_comma, st.none() | no_comma, no_comma, no_comma),
    st.tuples(no_comma, st.none() | no_comma, no_comma, no_comma),
)
def test_idempotent_ids_of_distinct_targets_differ(a: tuple, b: tuple) -> None:
    def norm(t: tuple) -> tuple:
        return (t[0], t[1] or "", t[2], t[3])  # no key and an empty key are the same target

    assume(norm(a) != norm(b))
    assert idempotent_invocation_id(*a) != idempotent_invocation_id(*b)


@given(st.tuples(no_comma, no_comma), st.tuples(no_comma, no_comma))
def test_workflow_ids_of_distinct_runs_differ(a: tuple, b: tuple) -> None:
    assume(a != b)
    assert workflow_invocation_id(*a) != workflow_invocation_id(*b)


def test_idempotent_ids_do_not_collide_across_comma_boundaries() -> None:
    # Object key "alice,add" + handler "add" + idempotency key "1" versus key "alice" + handler "add" +
    # idempotency key "add,1": both hash "ik,Counter,alice,add,add,1".
    assert idempotent_invocation_id("Counter", "alice,add", "add", "1") != idempotent_invocation_id(
        "Counter", "alice", "add", "add,1"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "inv_1",
        "inv_",
        "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hb",  # 37 chars
        "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbzz",  # 39 chars
        "inv_2gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz",  # unknown scheme version
        "INV_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz",
        "abc_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz",
        "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hb-",  # not base62
        "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hb_",
        "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hb ",
        "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbé",
        "inv_1" + "Z" * 33,  # both fields overflow
        "inv_1" + "Z" * 11 + "0" * 22,  # the partition key overflows u64
        "inv_1" + "0" * 11 + "Z" * 22,  # the uuid overflows u128
        " inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz"[:38],
        "sign_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hb",
    ],
)
def test_malformed_invocation_ids_are_bad_requests(text: str) -> None:
    with pytest.raises(BadRequest):
        InvocationId.parse(text)


def test_a_valid_id_helper_is_valid() -> None:
    assert InvocationId.parse(_a_valid_id()) == InvocationId(12345, bytes(range(16)))


# -- awakeable ids -----------------------------------------------------------------------------


def _decode(awakeable_id: str) -> bytes:
    body = awakeable_id[6:]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


@given(random28)
def test_awakeable_id_shape(random_bytes: bytes) -> None:
    text = new_awakeable_id(random_bytes)
    assert text.startswith("sign_1")
    assert len(text) == 44
    assert set(text[6:]) <= set(B64URL)
    assert "=" not in text
    assert parse_awakeable_id(text) == text


@given(random28)
def test_awakeable_id_encodes_exactly_the_random_bytes(random_bytes: bytes) -> None:
    # Nothing but the 28 random bytes: no invocation id, no sequential index.
    assert _decode(new_awakeable_id(random_bytes)) == random_bytes


@given(random28, random28)
def test_awakeable_ids_from_distinct_randomness_are_distinct(a: bytes, b: bytes) -> None:
    assume(a != b)
    assert new_awakeable_id(a) != new_awakeable_id(b)


def test_awakeable_id_is_pure() -> None:
    raw = bytes(range(28))
    assert new_awakeable_id(raw) == new_awakeable_id(raw)


@pytest.mark.parametrize("size", [0, 1, 24, 27, 29, 32])
def test_awakeable_id_needs_exactly_28_bytes(size: int) -> None:
    with pytest.raises(ValueError):
        new_awakeable_id(bytes(size))


@given(random28)
def test_parse_accepts_padding_and_returns_the_unpadded_form(random_bytes: bytes) -> None:
    text = new_awakeable_id(random_bytes)
    padded = text + "=" * (-len(text[6:]) % 4)
    assert padded != text
    assert parse_awakeable_id(padded) == text


@given(random28)
def test_parse_accepts_the_legacy_prom_prefix(random_bytes: bytes) -> None:
    body = new_awakeable_id(random_bytes)[6:]
    assert parse_awakeable_id("prom_1" + body) == "prom_1" + body
    assert parse_awakeable_id("prom_1" + body + "==") == "prom_1" + body


def test_parse_accepts_restates_legacy_example() -> None:
    text = "prom_1NMyOAvDK2CcBjUH4Rmb7eGBp0DNNDnmsAAAAAQ"
    assert parse_awakeable_id(text) == text


VALID_BODY = new_awakeable_id(bytes(range(28)))[6:]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sign_1",
        "prom_1",
        "sign_1==",
        "sign_",
        VALID_BODY,  # no prefix
        "sign_2" + VALID_BODY,
        "SIGN_1" + VALID_BODY,
        "inv_1" + VALID_BODY,
        "awk_1" + VALID_BODY,
        " sign_1" + VALID_BODY,
        "sign_1" + VALID_BODY[:-1],  # 27 bytes and change
        "sign_1" + VALID_BODY[:-2],
        "sign_1" + VALID_BODY + "AAAA",  # 31 bytes
        "sign_1" + VALID_BODY + "A",
        "sign_1" + VALID_BODY[:32],  # 24 bytes: a bare invocation id
        "sign_1" + "A" * 65,  # too long
        "sign_1" + "A" * 200,
        "sign_1" + "+" + VALID_BODY[1:],  # standard base64, not base64url
        "sign_1" + "/" + VALID_BODY[1:],
        "sign_1" + "*" + VALID_BODY[1:],
        "sign_1" + VALID_BODY[:10] + "+" + VALID_BODY[11:],
        "sign_1" + VALID_BODY[:10] + "/" + VALID_BODY[11:],
        "sign_1" + VALID_BODY[:10] + "*" + VALID_BODY[11:],
        "sign_1" + VALID_BODY[:10] + " " + VALID_BODY[11:],
        "sign_1" + VALID_BODY[:10] + "." + VALID_BODY[11:],
        "sign_1" + VALID_BODY[:10] + "é" + VALID_BODY[11:],
        "sign_1" + VALID_BODY[:10] + "=" + VALID_BODY[11:],  # padding in the middle
        "sign_1" + VALID_BODY[:-1] + "\n",
        "prom_1" + "+" * 38,
    ],
)
def test_malformed_awakeable_ids_are_bad_requests(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_awakeable_id(text)


@given(random28, st.integers(min_value=0, max_value=37), st.sampled_from("+/*.~!$ é\t%"))
def test_any_non_base64url_character_is_rejected(random_bytes: bytes, position: int, bad: str) -> None:
    text = new_awakeable_id(random_bytes)
    body = text[6:]
    with pytest.raises(BadRequest):
        parse_awakeable_id("sign_1" + body[:position] + bad + body[position + 1 :])


@given(random28, st.integers(min_value=1, max_value=60))
def test_wrong_length_bodies_are_rejected(random_bytes: bytes, length: int) -> None:
    body = (new_awakeable_id(random_bytes)[6:] * 2)[:length]
    assume(length != 38)
    with pytest.raises(BadRequest):
        parse_awakeable_id("sign_1" + body)


def test_random_invocation_ids_always_decode_and_differ() -> None:
    import random

    from awaken.core.ids import random_invocation_id

    rng = random.Random(7)
    ids = {random_invocation_id(rng, 1_750_000_000_000 + i % 3) for i in range(20_000)}
    assert len(ids) == 20_000
    for text in ids:
        assert len(text) == INVOCATION_ID_LENGTH and str(InvocationId.parse(text)) == text


@given(st.integers(min_value=0, max_value=2**62), st.integers(min_value=1, max_value=10**12))
def test_random_invocation_ids_sort_by_time_and_decode(now_ms: int, later_by: int) -> None:
    import random

    from awaken.core.ids import random_invocation_id

    rng = random.Random(now_ms)
    first, second = random_invocation_id(rng, now_ms), random_invocation_id(rng, now_ms + later_by)
    for text in (first, second):
        assert len(text) == INVOCATION_ID_LENGTH and str(InvocationId.parse(text)) == text
    # later ids sort after earlier ones (byte order, as the store's indexes compare), except
    # across the prefix's wrap-around every 37 years
    from awaken.core.ids import _TIME_EPOCH_MS, _TIME_SPAN_MS

    wraps = (now_ms - _TIME_EPOCH_MS) // _TIME_SPAN_MS != (
        now_ms + later_by - _TIME_EPOCH_MS
    ) // _TIME_SPAN_MS
    if not wraps:
        assert first[:12] < second[:12]


def test_the_admin_documents_exactly_the_awakeable_ids_it_accepts() -> None:
    # (the admin layer is imported here only: this module is about core's ids)
    from awaken.admin.openapi import AWAKEABLE_ID_PATTERN

    pattern = re.compile(AWAKEABLE_ID_PATTERN)
    good = [new_awakeable_id(os.urandom(28)) for _ in range(200)]
    good += ["prom_1" + g[6:] for g in good[:5]] + [g + "==" for g in good[:5]]
    for text in good:
        assert pattern.match(text) and parse_awakeable_id(text)
    raw = base64.urlsafe_b64encode(os.urandom(28)).rstrip(b"=").decode()
    bad = ["0", "sign_1", "sign_1" + raw[:-1], "sign_1" + raw + "A", "sign_1" + raw[:-1] + "B", "inv_1" + raw]
    for text in bad:
        assert not pattern.match(text)
        with pytest.raises(BadRequest):
            parse_awakeable_id(text)
