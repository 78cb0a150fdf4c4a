"""The exceptions of the wire layer, all under `awaken.errors.AwakenError`.

```
AwakenError
└── ProtocolError                    anything the service protocol's wire layer refuses
    ├── CodecError                   bytes that are not a well-formed message stream
    │   ├── MessageTooLarge          a header declares more than the configured limit
    │   ├── TruncatedMessage         the stream ended inside a message
    │   ├── UnknownMessageType       a type code outside the protocol (and not a custom entry)
    │   ├── MalformedMessage         a payload that is not the protobuf of its declared type
    │   └── MessageEncodeError       a message of ours that cannot be encoded (a bug, not input)
    ├── UnsupportedVersion           no protocol / manifest version both sides speak
    ├── ManifestError                a discovery answer that is not a valid endpoint manifest
    ├── IdentityKeyError             a request identity key that cannot be loaded or parsed
    ├── IdentityVerificationError    a signed request that does not verify (used by tests, tools)
    └── DeploymentError              talking to a deployment over HTTP failed
        ├── DeploymentUnreachable    connection refused, DNS failure, connect timeout
        ├── DeploymentTimeout        no answer (headers or data) within the deadline
        ├── UnexpectedStatus         an HTTP status other than 200 (carries a body excerpt)
        ├── UnexpectedContentType    200, but not the content type that was negotiated
        ├── StreamReset              the HTTP/2 stream was reset (carries the error code)
        └── ConnectionClosed         the connection went away mid-request (EOF, GOAWAY)
```

A deployment is untrusted input: every way its bytes or its HTTP answers can be wrong maps to one
of these, never to a crash of the caller.
"""

from __future__ import annotations

from awaken.errors import AwakenError


class ProtocolError(AwakenError):
    """Root of what the service protocol's wire layer refuses."""


class CodecError(ProtocolError):
    """The bytes are not a well-formed stream of protocol messages."""


class MessageTooLarge(CodecError):
    """A message header declares a payload larger than the configured limit."""

    def __init__(self, declared: int, limit: int) -> None:
        super().__init__(f"message of {declared} bytes exceeds the limit of {limit} bytes")
        self.declared = declared
        self.limit = limit


class TruncatedMessage(CodecError):
    """The stream ended in the middle of a message (header or payload)."""


class UnknownMessageType(CodecError):
    """A type code that is neither a protocol message nor a custom entry (0xFC00-0xFFFF)."""

    def __init__(self, type_code: int) -> None:
        super().__init__(f"unknown message type 0x{type_code:04X}")
        self.type_code = type_code


class MalformedMessage(CodecError):
    """The payload is not a valid protobuf encoding of its declared message type."""


class MessageEncodeError(CodecError):
    """A message built by the caller cannot be encoded (wrong field type, value out of range)."""


class UnsupportedVersion(ProtocolError):
    """No protocol (or manifest) version is spoken by both sides."""


class ManifestError(ProtocolError):
    """The discovery answer is not a valid endpoint manifest; `problems` lists each one."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        detail = "" if not problems else ": " + "; ".join(problems)
        super().__init__(message + detail)
        self.problems = problems or []


class IdentityKeyError(ProtocolError):
    """A request identity key that cannot be loaded or parsed."""


class IdentityVerificationError(ProtocolError):
    """A request whose identity headers do not verify against the configured keys."""


class DeploymentError(ProtocolError):
    """A request to a deployment failed; `url` names what was asked."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url


class DeploymentUnreachable(DeploymentError):
    """The deployment could not be connected to (refused, DNS, connect timeout)."""


class DeploymentTimeout(DeploymentError):
    """The deployment did not answer (response headers, or more data) within the deadline."""


class UnexpectedStatus(DeploymentError):
    """The deployment answered with an HTTP status other than the expected one."""

    def __init__(self, status: int, body_excerpt: str, url: str = "") -> None:
        excerpt = f": {body_excerpt}" if body_excerpt else ""
        super().__init__(f"deployment answered HTTP {status}{excerpt}", url)
        self.status = status
        self.body_excerpt = body_excerpt


class UnexpectedContentType(DeploymentError):
    """The deployment answered 200 with a content type other than the negotiated one."""

    def __init__(self, expected: str, actual: str | None, url: str = "") -> None:
        super().__init__(f"expected content-type {expected!r}, got {actual!r}", url)
        self.expected = expected
        self.actual = actual


class StreamReset(DeploymentError):
    """The HTTP/2 stream was reset by the deployment."""

    def __init__(self, error_code: int, url: str = "") -> None:
        super().__init__(f"HTTP/2 stream reset by the deployment (error code {error_code})", url)
        self.error_code = error_code


class ConnectionClosed(DeploymentError):
    """The connection ended before the request finished (EOF, GOAWAY, local close)."""
