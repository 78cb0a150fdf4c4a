"""Which protocol and manifest versions awaken speaks, and how they are negotiated over HTTP.

Invocation protocol: the runtime picks a version inside the deployment's advertised range
`[minProtocolVersion, maxProtocolVersion]` and names it in the request's content type
(`application/vnd.restate.invocation.vN`); the SDK echoes it with 200 or answers 415.
awaken negotiates V5 and V6 by default, as Restate 1.7 does without its experimental flag. The
codec also reads and writes every V7 message, so `negotiate(..., speak=CODEC_VERSIONS)` can pick
V7 once the engine honours its semantics (futures, run acks, error behavior).

Discovery: `GET {uri}/discover` with an `accept` header listing the manifest versions we read
(`application/vnd.restate.endpointmanifest.vN+json`, newest first); the SDK answers with the one
it chose in `content-type`.
"""

from __future__ import annotations

import enum
import re

from awaken.protocol.errors import UnsupportedVersion

_INVOCATION_PREFIX = "application/vnd.restate.invocation.v"
_MANIFEST_RE = re.compile(r"^application/vnd\.restate\.endpointmanifest\.v(\d{1,3})\+json$")


class ProtocolVersion(enum.IntEnum):
    """Service protocol versions the codec knows (V1-V4 are pre-immutable-journal, unsupported)."""

    V5 = 5
    V6 = 6
    V7 = 7

    @property
    def content_type(self) -> str:
        return f"{_INVOCATION_PREFIX}{int(self)}"


SUPPORTED_VERSIONS: tuple[ProtocolVersion, ...] = (ProtocolVersion.V5, ProtocolVersion.V6)
"""What awaken negotiates by default."""

CODEC_VERSIONS: tuple[ProtocolVersion, ...] = tuple(ProtocolVersion)
"""What the message codec can read and write."""

MANIFEST_VERSIONS: tuple[int, ...] = (5, 4, 3, 2, 1)
"""Endpoint manifest versions awaken reads, newest first (each is a superset of the previous)."""

DISCOVERY_ACCEPT = ", ".join(f"application/vnd.restate.endpointmanifest.v{v}+json" for v in MANIFEST_VERSIONS)
"""The `accept` header of a discovery request."""


def invocation_content_type(version: ProtocolVersion) -> str:
    return version.content_type


def parse_invocation_content_type(value: str | None) -> ProtocolVersion:
    """The version named by an invocation content type; `UnsupportedVersion` for anything else."""
    if value is None:
        raise UnsupportedVersion("missing content-type: not a service protocol response")
    media = value.split(";", 1)[0].strip().lower()
    if not media.startswith(_INVOCATION_PREFIX):
        raise UnsupportedVersion(f"content-type {value!r} is not a service protocol content type")
    digits = media[len(_INVOCATION_PREFIX) :]
    if not digits.isdigit() or len(digits) > 3:
        raise UnsupportedVersion(f"content-type {value!r} names no protocol version")
    number = int(digits)
    if number not in ProtocolVersion._value2member_map_:
        raise UnsupportedVersion(f"service protocol version {number} is not supported")
    return ProtocolVersion(number)


def negotiate(
    min_version: int, max_version: int, speak: tuple[ProtocolVersion, ...] = SUPPORTED_VERSIONS
) -> ProtocolVersion:
    """The highest version in the deployment's range that we speak."""
    if min_version > max_version:
        raise UnsupportedVersion(f"the deployment's protocol range [{min_version}, {max_version}] is empty")
    common = [v for v in speak if min_version <= v <= max_version]
    if not common:
        ours = ", ".join(f"V{int(v)}" for v in speak)
        raise UnsupportedVersion(
            f"the deployment speaks protocol versions [{min_version}, {max_version}]; awaken speaks {ours}"
        )
    return max(common)


def parse_manifest_content_type(value: str | None) -> int:
    """The manifest version named by a discovery response's content type."""
    if value is None:
        raise UnsupportedVersion("discovery response has no content-type")
    media = value.split(";", 1)[0].strip().lower()
    match = _MANIFEST_RE.match(media)
    if match is None:
        raise UnsupportedVersion(f"discovery response content-type {value!r} is not an endpoint manifest")
    version = int(match.group(1))
    if version not in MANIFEST_VERSIONS:
        raise UnsupportedVersion(f"endpoint manifest version {version} is not supported")
    return version
