"""Request identity (ed25519 JWT, scheme v1) and awakeable ids, as the SDKs compute and check them."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest

from awaken.protocol import (
    IdentityKeyError,
    IdentityVerificationError,
    RequestSigner,
    SigningKey,
    awakeable_id,
    parse_awakeable_id,
    random_start_id,
    verify_request,
)
from awaken.protocol.identity import JWT_HEADER, SCHEME_HEADER, normalise_path, parse_public_key_id

# A key and its kid from Restate's server tests (PKCS#8 PEM, ed25519).
RESTATE_TEST_KEY = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPe++4ZTPQDF81otpoU/mOGHC2vOAVp9WbiCblvn3nXO
-----END PRIVATE KEY-----
"""
RESTATE_TEST_KID = "publickeyv1_AfQwmwfgEZhrWpvv8N52SHpRtZqGGaFr4AZN6qtYWSiY"


def test_key_id_is_the_base58_public_key_restate_prints() -> None:
    key = SigningKey.from_pem(RESTATE_TEST_KEY)
    assert key.public_key_id == RESTATE_TEST_KID
    assert SigningKey.from_pem(key.to_pem()).public_key_id == RESTATE_TEST_KID


def test_signed_headers_and_claims() -> None:
    key = SigningKey.from_pem(RESTATE_TEST_KEY)
    headers = RequestSigner(key).headers("/invoke/Greeter/greet", now=1_700_000_000)
    assert headers[SCHEME_HEADER] == "v1"
    token = headers[JWT_HEADER]
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": RESTATE_TEST_KID, "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "aud": "/invoke/Greeter/greet",
        "iat": 1_700_000_000,
        "nbf": 1_699_999_940,
        "exp": 1_700_000_060,
    }


def test_verification_as_the_sdks_do_it() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    headers = RequestSigner(key).headers("/invoke/S/h")
    verify_request(headers, "/prefix/invoke/S/h", [other.public_key_id, key.public_key_id])
    verify_request({}, "/invoke/S/h", [])  # no keys configured: everything passes
    with pytest.raises(IdentityVerificationError, match="Audience"):
        verify_request(headers, "/invoke/S/other", [key.public_key_id])
    with pytest.raises(IdentityVerificationError, match="Signature"):
        verify_request(headers, "/invoke/S/h", [other.public_key_id])
    with pytest.raises(IdentityVerificationError, match="unsigned"):
        verify_request(RequestSigner(None).headers("/invoke/S/h"), "/invoke/S/h", [key.public_key_id])
    with pytest.raises(IdentityVerificationError, match="missing header"):
        verify_request({}, "/invoke/S/h", [key.public_key_id])
    expired = RequestSigner(key).headers("/invoke/S/h", now=time.time() - 120)
    with pytest.raises(IdentityVerificationError, match="expired"):
        verify_request(expired, "/invoke/S/h", [key.public_key_id])


def test_path_normalisation_matches_the_sdks() -> None:
    cases = {
        "/invoke/a/b": "/invoke/a/b",
        "/foo/bar/invoke/a/b": "/invoke/a/b",
        "/foo/discover": "/discover",
        "/discover": "/discover",
        "/invoke/a": "/invoke/a",
        "/foo": "/foo",
    }
    assert {p: normalise_path(p) for p in cases} == cases


def test_key_loading_errors(tmp_path: Path) -> None:
    with pytest.raises(IdentityKeyError, match="cannot read"):
        SigningKey.from_pem_file(tmp_path / "missing.pem")
    with pytest.raises(IdentityKeyError, match="exactly one PEM block"):
        SigningKey.from_pem(RESTATE_TEST_KEY * 2)
    with pytest.raises(IdentityKeyError, match="not an unencrypted PEM private key"):
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(IdentityKeyError, match="must be ed25519"):
        SigningKey.from_pem(p256)
    assert SigningKey.from_env({}) is None
    path = tmp_path / "k.pem"
    SigningKey.from_pem(RESTATE_TEST_KEY).write_pem_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    loaded = SigningKey.from_env({"AWAKEN_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE": str(path)})
    assert loaded is not None and loaded.public_key_id == RESTATE_TEST_KID
    for bad in ("publickeyv2_abc", "publickeyv1_0OIl", "publickeyv1_abc"):
        with pytest.raises(IdentityKeyError):
            parse_public_key_id(bad)


def test_awakeable_ids_as_the_sdks_make_them() -> None:
    start_id = bytes(range(24))
    made = awakeable_id(start_id, 17)
    assert made.startswith("sign_1") and len(made) == 44 and "=" not in made
    assert base64.urlsafe_b64decode(made[6:] + "==") == start_id + b"\x00\x00\x00\x11"
    assert parse_awakeable_id(made) == (start_id, 17)
    # The protocol documentation's legacy example: a 24-byte id, index 1.
    legacy_id, index = parse_awakeable_id("prom_1NMyOAvDK2CcBjUH4Rmb7eGBp0DNNDnmsAAAAAQ")
    assert (len(legacy_id), index) == (24, 1)
    for bad in ("sign_", "sign_1!!!", "nope_1abc", "sign_1" + "A" * 5000):
        with pytest.raises(ValueError):
            parse_awakeable_id(bad)


def test_random_start_ids_reveal_nothing_across_invocations() -> None:
    ids = {random_start_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 24 for i in ids)
    a, b = random_start_id(), random_start_id()
    # Within one invocation the ids share a prefix and count up; across invocations nothing is shared.
    assert awakeable_id(a, 17)[:38] == awakeable_id(a, 18)[:38]
    assert awakeable_id(a, 17)[6:20] != awakeable_id(b, 17)[6:20]
    assert json.dumps(awakeable_id(a, 17))  # plain ASCII
