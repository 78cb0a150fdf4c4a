"""Restate's service protocol, the wire side: what awaken needs to run handlers served elsewhere.

Pure parts (no I/O): `messages` (every message of protocol V5-V7 as a typed value), `framing`
(the 8-byte header; incremental decoding of untrusted bytes), `versions` (negotiation),
`manifest` (the validated discovery answer), `identity` (ed25519 request signing),
`awakeables` (the ids SDKs derive from `StartMessage.id`).
I/O edges: `h2client` (a full-duplex HTTP/2 client on `h2`; its connections pooled by `h2pool`)
and `deployment` (discovery and invocation streams in request/response and bidirectional mode).

This package knows nothing of the engine: it turns bytes into messages and back, and moves them.
"""

from __future__ import annotations

from awaken.protocol.awakeables import awakeable_id, parse_awakeable_id, random_start_id
from awaken.protocol.deployment import DeploymentClient, Discovery, InvocationStream, Timeouts
from awaken.protocol.errors import (
    CodecError,
    ConnectionClosed,
    DeploymentError,
    DeploymentTimeout,
    DeploymentUnreachable,
    IdentityKeyError,
    IdentityVerificationError,
    MalformedMessage,
    ManifestError,
    MessageEncodeError,
    MessageTooLarge,
    ProtocolError,
    StreamReset,
    TruncatedMessage,
    UnexpectedContentType,
    UnexpectedStatus,
    UnknownMessageType,
    UnsupportedVersion,
)
from awaken.protocol.framing import (
    DEFAULT_MAX_MESSAGE_SIZE,
    Frame,
    FrameDecoder,
    MessageDecoder,
    decode_frame,
    decode_messages,
    encode_message,
    encode_messages,
    to_frame,
)
from awaken.protocol.identity import RequestSigner, SigningKey, public_key_id, verify_request
from awaken.protocol.manifest import (
    EndpointManifest,
    HandlerManifest,
    HandlerType,
    ProtocolMode,
    ServiceManifest,
    ServiceType,
    parse_manifest,
)
from awaken.protocol.versions import (
    CODEC_VERSIONS,
    DISCOVERY_ACCEPT,
    SUPPORTED_VERSIONS,
    ProtocolVersion,
    negotiate,
    parse_invocation_content_type,
)

__all__ = [
    "CODEC_VERSIONS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DISCOVERY_ACCEPT",
    "SUPPORTED_VERSIONS",
    "CodecError",
    "ConnectionClosed",
    "DeploymentClient",
    "DeploymentError",
    "DeploymentTimeout",
    "DeploymentUnreachable",
    "Discovery",
    "EndpointManifest",
    "Frame",
    "FrameDecoder",
    "HandlerManifest",
    "HandlerType",
    "IdentityKeyError",
    "IdentityVerificationError",
    "InvocationStream",
    "MalformedMessage",
    "ManifestError",
    "MessageDecoder",
    "MessageEncodeError",
    "MessageTooLarge",
    "ProtocolError",
    "ProtocolMode",
    "ProtocolVersion",
    "RequestSigner",
    "ServiceManifest",
    "ServiceType",
    "SigningKey",
    "StreamReset",
    "Timeouts",
    "TruncatedMessage",
    "UnexpectedContentType",
    "UnexpectedStatus",
    "UnknownMessageType",
    "UnsupportedVersion",
    "awakeable_id",
    "decode_frame",
    "decode_messages",
    "encode_message",
    "encode_messages",
    "negotiate",
    "parse_awakeable_id",
    "parse_invocation_content_type",
    "parse_manifest",
    "public_key_id",
    "random_start_id",
    "to_frame",
    "verify_request",
]
