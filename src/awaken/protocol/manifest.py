"""The endpoint manifest a deployment returns from `GET /discover`, validated.

The shape is Restate's `endpoint_manifest_schema.json` (manifest versions 1 to 5; later versions
only add optional fields): services with a kind (`ty`) and handlers, each handler with its kind,
input/output description (content type, JSON schema), timeouts, retention, retry policy, lazy
state. Durations are integers in milliseconds. Beyond the JSON schema, `parse_manifest` checks
what Restate's server checks when it registers a deployment: unique names, a protocol range that
is not empty, handler kinds that fit their service's kind, options where they mean something.

Unknown fields are ignored (a newer SDK may add optional ones); everything else that is wrong
is a `ManifestError` whose `problems` name each fault by its JSON path
(`services[0].handlers[2].ty: ...`).
"""

from __future__ import annotations

import enum
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from awaken.protocol.errors import ManifestError

_SERVICE_NAME = r"^([a-zA-Z]|_[a-zA-Z0-9])[a-zA-Z0-9._-]*$"
_HANDLER_NAME = r"^([a-zA-Z]|_[a-zA-Z0-9])[a-zA-Z0-9_]*$"
_MAX_MS = 2**63 - 1

Millis = Annotated[int, Field(ge=0, le=_MAX_MS)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ProtocolMode(enum.StrEnum):
    BIDI_STREAM = "BIDI_STREAM"
    REQUEST_RESPONSE = "REQUEST_RESPONSE"


class ServiceType(enum.StrEnum):
    SERVICE = "SERVICE"
    VIRTUAL_OBJECT = "VIRTUAL_OBJECT"
    WORKFLOW = "WORKFLOW"


class HandlerType(enum.StrEnum):
    EXCLUSIVE = "EXCLUSIVE"
    SHARED = "SHARED"
    WORKFLOW = "WORKFLOW"


class OnMaxAttempts(enum.StrEnum):
    PAUSE = "PAUSE"
    KILL = "KILL"


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True, strict=True
    )


class InputPayload(_Model):
    """What a handler accepts. No `content_type` means it takes no body."""

    required: bool = False
    content_type: str | None = None
    json_schema: Any = None


class OutputPayload(_Model):
    content_type: str | None = None
    set_content_type_if_empty: bool = False
    json_schema: Any = None


class _Options(_Model):
    """Options a service and its handlers share (a handler's win over its service's)."""

    documentation: str | None = None
    metadata: dict[str, str] | None = None
    inactivity_timeout: Millis | None = None
    abort_timeout: Millis | None = None
    journal_retention: Millis | None = None
    idempotency_retention: Millis | None = None
    enable_lazy_state: bool | None = None
    eager_state_keys_whitelist: tuple[str, ...] | None = None  # manifest v5
    ingress_private: bool | None = None
    retry_policy_initial_interval: Millis | None = None
    retry_policy_max_interval: Millis | None = None
    retry_policy_max_attempts: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None
    retry_policy_exponentiation_factor: float | None = None
    retry_policy_on_max_attempts: OnMaxAttempts | None = None

    @model_validator(mode="after")
    def _check_factor(self) -> _Options:
        factor = self.retry_policy_exponentiation_factor
        if factor is not None and (not math.isfinite(factor) or factor < 1.0):
            raise ValueError("retryPolicyExponentiationFactor must be a finite number >= 1")
        return self


class HandlerManifest(_Options):
    name: Annotated[str, Field(pattern=_HANDLER_NAME, max_length=255)]
    ty: HandlerType | None = None
    input: InputPayload | None = None
    output: OutputPayload | None = None
    workflow_completion_retention: Millis | None = None


class ServiceManifest(_Options):
    name: Annotated[str, Field(pattern=_SERVICE_NAME, max_length=255)]
    ty: ServiceType
    handlers: tuple[HandlerManifest, ...]

    def handler_kind(self, handler: HandlerManifest) -> HandlerType | None:
        """The handler's effective kind: EXCLUSIVE / WORKFLOW by default on objects / workflows."""
        if handler.ty is not None:
            return handler.ty
        if self.ty is ServiceType.VIRTUAL_OBJECT:
            return HandlerType.EXCLUSIVE
        if self.ty is ServiceType.WORKFLOW:
            return HandlerType.WORKFLOW
        return None

    def handler(self, name: str) -> HandlerManifest | None:
        return next((h for h in self.handlers if h.name == name), None)

    @model_validator(mode="after")
    def _check_handlers(self) -> ServiceManifest:
        problems: list[str] = []
        seen: set[str] = set()
        for i, handler in enumerate(self.handlers):
            where = f"handlers[{i}] ({handler.name})"
            if handler.name in seen:
                problems.append(f"{where}: duplicate handler name")
            seen.add(handler.name)
            kind = self.handler_kind(handler)
            if self.ty is ServiceType.SERVICE and handler.ty is not None:
                problems.append(f"{where}: a SERVICE's handlers have no ty, got {handler.ty}")
            if self.ty is ServiceType.VIRTUAL_OBJECT and kind is HandlerType.WORKFLOW:
                problems.append(f"{where}: a VIRTUAL_OBJECT's handler is EXCLUSIVE or SHARED, not WORKFLOW")
            if self.ty is ServiceType.WORKFLOW and kind is HandlerType.EXCLUSIVE:
                problems.append(f"{where}: a WORKFLOW's handler is WORKFLOW or SHARED, not EXCLUSIVE")
            if handler.workflow_completion_retention is not None and kind is not HandlerType.WORKFLOW:
                problems.append(f"{where}: workflowCompletionRetention is only valid on a WORKFLOW handler")
            if handler.idempotency_retention is not None and kind is HandlerType.WORKFLOW:
                problems.append(f"{where}: idempotencyRetention is not valid on a WORKFLOW handler")
            if self.ty is ServiceType.SERVICE and (
                handler.enable_lazy_state is not None or handler.eager_state_keys_whitelist is not None
            ):
                problems.append(f"{where}: a SERVICE has no state, so no lazy/eager state options")
        if self.ty is ServiceType.WORKFLOW:
            main = [h.name for h in self.handlers if self.handler_kind(h) is HandlerType.WORKFLOW]
            if len(main) != 1:
                problems.append(f"a WORKFLOW needs exactly one WORKFLOW handler, has {len(main)}")
        if self.ty is ServiceType.SERVICE and (
            self.enable_lazy_state is not None or self.eager_state_keys_whitelist is not None
        ):
            problems.append("a SERVICE has no state, so no lazy/eager state options")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class EndpointManifest(_Model):
    """A deployment's discovery answer."""

    protocol_mode: ProtocolMode | None = None
    min_protocol_version: Version
    max_protocol_version: Version
    lambda_compression: Literal["zstd"] | None = None
    services: tuple[ServiceManifest, ...]

    def service(self, name: str) -> ServiceManifest | None:
        return next((s for s in self.services if s.name == name), None)

    @model_validator(mode="after")
    def _check(self) -> EndpointManifest:
        problems: list[str] = []
        if self.min_protocol_version > self.max_protocol_version:
            low, high = self.min_protocol_version, self.max_protocol_version
            problems.append(f"minProtocolVersion {low} > maxProtocolVersion {high}")
        seen: set[str] = set()
        for i, service in enumerate(self.services):
            if service.name in seen:
                problems.append(f"services[{i}] ({service.name}): duplicate service name")
            seen.add(service.name)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "union[", "tagged-union[")):
            out += f".{part}" if out else part
    return out or "(manifest)"


def parse_manifest(body: bytes | str) -> EndpointManifest:
    """Validate a discovery response body; `ManifestError` with one entry per problem."""
    try:
        # JSON mode (not json.loads + python mode): strict types, yet enums from their strings.
        return EndpointManifest.model_validate_json(body)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "json_invalid":
                raise ManifestError("the endpoint manifest is not valid JSON", [message]) from exc
            if error["type"] == "model_type" and not error["loc"]:
                raise ManifestError("the endpoint manifest must be a JSON object", [message]) from exc
            problems.append(f"{_location(tuple(error['loc']))}: {message}")
        raise ManifestError("invalid endpoint manifest", problems) from exc
