"""Request identity: requests to deployments signed as Restate signs them (scheme v1).

A deployment configured with identity keys (`identityKeys` in the TypeScript SDK,
`identity_keys` in the Python SDK) accepts only requests that carry
- `x-restate-signature-scheme: v1`, and
- `x-restate-jwt-v1: <JWT>`, an EdDSA (ed25519) JWT whose header names the key
  (`typ: JWT`, `kid: publickeyv1_<base58 of the 32-byte public key>`) and whose claims are
  `aud` = the request path, `nbf` = now - 60 s, `iat` = now, `exp` = now + 60 s
  (the SDKs verify with no leeway), optionally `sub`.
Unsigned requests carry `x-restate-signature-scheme: unsigned`, which such a deployment refuses.

The private key is an ed25519 PKCS#8 PEM file (`openssl genpkey -algorithm ed25519`, the same
file Restate's server takes); its public half, in the `publickeyv1_...` form, is what goes into
the SDK's configuration. `aud` is the protocol path, `/invoke/{service}/{handler}` or `/discover`,
without the path prefix of the deployment's URI (Restate signs it so); the SDKs strip any prefix
from the path they receive before comparing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import base58
import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from awaken.protocol.errors import IdentityKeyError, IdentityVerificationError

SCHEME_HEADER = "x-restate-signature-scheme"
JWT_HEADER = "x-restate-jwt-v1"
SCHEME_V1 = "v1"
SCHEME_UNSIGNED = "unsigned"
PUBLIC_KEY_PREFIX = "publickeyv1_"
LEEWAY_SECONDS = 60
PRIVATE_KEY_ENV = "AWAKEN_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"
"""Environment variable naming the PEM file of awaken's private key (Restate's is
`RESTATE_REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE`)."""

UNSIGNED_HEADERS: Mapping[str, str] = {SCHEME_HEADER: SCHEME_UNSIGNED}


def public_key_id(public_key: Ed25519PublicKey) -> str:
    """`publickeyv1_` + base58 of the raw 32-byte key: the form SDKs are configured with."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PUBLIC_KEY_PREFIX + base58.b58encode(raw).decode("ascii")


def parse_public_key_id(key_id: str) -> Ed25519PublicKey:
    """The public key of a `publickeyv1_...` string."""
    if not key_id.startswith(PUBLIC_KEY_PREFIX):
        raise IdentityKeyError(f"an identity public key starts with {PUBLIC_KEY_PREFIX!r}")
    try:
        raw = base58.b58decode(key_id[len(PUBLIC_KEY_PREFIX) :])
    except ValueError as exc:
        raise IdentityKeyError(f"the identity public key is not base58: {exc}") from exc
    if len(raw) != 32:
        raise IdentityKeyError(f"an ed25519 public key has 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """awaken's ed25519 request identity key."""

    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """Exactly one ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`)."""
        if pem.count(b"-----BEGIN ") != 1:
            raise IdentityKeyError(f"expected exactly one PEM block, found {pem.count(b'-----BEGIN ')}")
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise IdentityKeyError(f"not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityKeyError(f"the request identity key must be ed25519, not {type(key).__name__}")
        return cls(key)

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike[str]) -> SigningKey:
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise IdentityKeyError(
                f"cannot read the request identity key {os.fspath(path)!r}: {exc}"
            ) from exc
        return cls.from_pem(pem)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, variable: str = PRIVATE_KEY_ENV
    ) -> SigningKey | None:
        """The key named by `variable` in the environment, or None when it is unset or empty."""
        path = (os.environ if environ is None else environ).get(variable, "")
        return cls.from_pem_file(path) if path else None

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def write_pem_file(self, path: str | os.PathLike[str]) -> None:
        """Write the key, readable by its owner only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.to_pem())

    @property
    def public_key_id(self) -> str:
        return public_key_id(self.private_key.public_key())


@dataclass(frozen=True, slots=True)
class RequestSigner:
    """Signs requests to deployments; with no key, marks them unsigned (as Restate does)."""

    key: SigningKey | None

    def headers(self, path: str, *, now: float | None = None, subject: str | None = None) -> dict[str, str]:
        """The identity headers of a request to the protocol path `path` (`/invoke/S/h`, `/discover`)."""
        if self.key is None:
            return dict(UNSIGNED_HEADERS)
        issued = int(time.time() if now is None else now)
        claims: dict[str, object] = {
            "aud": path,
            "nbf": max(0, issued - LEEWAY_SECONDS),
            "iat": issued,
            "exp": issued + LEEWAY_SECONDS,
        }
        if subject is not None:
            claims["sub"] = subject
        token = jwt.encode(
            claims,
            self.key.private_key,
            algorithm="EdDSA",
            headers={"typ": "JWT", "kid": self.key.public_key_id},
        )
        return {SCHEME_HEADER: SCHEME_V1, JWT_HEADER: token}


def normalise_path(path: str) -> str:
    """The path the SDKs check `aud` against: from `/invoke/{svc}/{handler}` or `/discover` on."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[-3] == "invoke":
        return "/" + "/".join(parts[-3:])
    if parts and parts[-1] == "discover" and len(parts) >= 2:
        return "/discover"
    return path


def verify_request(headers: Mapping[str, str], path: str, keys: Iterable[str]) -> None:
    """Check a request's identity as the SDKs do (for tests and tools; awaken only signs)."""
    public_keys = [parse_public_key_id(k) for k in keys]
    if not public_keys:
        return
    lowered = {k.lower(): v for k, v in headers.items()}
    scheme = lowered.get(SCHEME_HEADER)
    if scheme is None:
        raise IdentityVerificationError(f"missing header {SCHEME_HEADER}")
    if scheme == SCHEME_UNSIGNED:
        raise IdentityVerificationError("unsigned request, but only signed requests are accepted")
    if scheme != SCHEME_V1:
        raise IdentityVerificationError(f"unknown signature scheme {scheme!r}")
    token = lowered.get(JWT_HEADER)
    if token is None:
        raise IdentityVerificationError(f"missing header {JWT_HEADER}")
    last: Exception | None = None
    for key in public_keys:
        try:
            jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=normalise_path(path),
                options={"require": ["aud", "exp", "iat", "nbf"]},
                leeway=0,
            )
            return
        except jwt.PyJWTError as exc:
            last = exc
    raise IdentityVerificationError(f"invalid identity JWT: {last}")
