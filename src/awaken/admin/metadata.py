"""Services as Restate's admin API describes them (`ServiceMetadata`, `HandlerMetadata`), so that
Restate's CLI and tooling read awaken's `GET /services` and `GET /services/{name}`.

Durations are written as Restate writes them (compact "friendly" spans: `1d`, `1m`, `500ms`,
`1h 30m`). The services of awaken's own process carry one fixed deployment id
(`LOCAL_DEPLOYMENT_ID`); those of a registered deployment carry its id.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from awaken.core.retry import RetryPolicy
from awaken.sdk.service import AnyService, HandlerDescriptor, InvocationRetryPolicy, RemoteService

_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERVICE_TYPES = {"service": "Service", "object": "VirtualObject", "workflow": "Workflow"}
HANDLER_TYPES = {"exclusive": "Exclusive", "shared": "Shared", "workflow": "Workflow"}
# Restate's server defaults, which awaken's attempts do not have (they are not aborted)
INACTIVITY_TIMEOUT_MS = 60_000
ABORT_TIMEOUT_MS = 600_000


def _local_deployment_id() -> str:
    value = int.from_bytes(hashlib.sha256(b"awaken local deployment").digest()[:16], "big")
    digits = []
    for _ in range(22):
        value, rem = divmod(value, 62)
        digits.append(_B62[rem])
    return "dp_1" + "".join(reversed(digits))


LOCAL_DEPLOYMENT_ID = _local_deployment_id()


def friendly(ms: int) -> str:
    """A duration as Restate's admin API writes it: `1d 2h 30m 5s 500ms`, largest unit days."""
    if ms <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts)


def _ms(delta: timedelta | None) -> int | None:
    return None if delta is None else int(delta.total_seconds() * 1000)


def _describe(schema: dict[str, Any] | None, fallback: str) -> str:
    # as Restate displays input and output rules: the schema's title, else its type
    if isinstance(schema, dict):
        if isinstance(schema.get("title"), str):
            return f"JSON '{schema['title']}'"
        if isinstance(schema.get("type"), str):
            return f"JSON {schema['type']}"
    return fallback


def _handler_retry(policy: InvocationRetryPolicy | None) -> dict[str, Any]:
    if policy is None:
        return {}
    out: dict[str, Any] = {}
    if policy.initial_interval is not None:
        out["initial_interval"] = friendly(_ms(policy.initial_interval) or 0)
    if policy.exponentiation_factor is not None:
        out["exponentiation_factor"] = policy.exponentiation_factor
    if policy.max_attempts is not None:
        out["max_attempts"] = policy.max_attempts
    if policy.max_interval is not None:
        out["max_interval"] = friendly(_ms(policy.max_interval) or 0)
    if policy.on_max_attempts is not None:
        out["on_max_attempts"] = policy.on_max_attempts.capitalize()
    return out


def handler_metadata(spec: HandlerDescriptor) -> dict[str, Any]:
    out: dict[str, Any] = {"name": spec.name}
    if spec.kind is not None:
        out["ty"] = HANDLER_TYPES[spec.kind]
    if spec.description:
        out["documentation"] = spec.description
    if spec.metadata:
        out["metadata"] = dict(spec.metadata)
    for field, value in (
        ("idempotency_retention", None if spec.kind == "workflow" else spec.idempotency_retention),
        ("journal_retention", spec.journal_retention),
        ("inactivity_timeout", spec.inactivity_timeout),
        ("abort_timeout", spec.abort_timeout),
    ):
        if value is not None:
            out[field] = friendly(_ms(value) or 0)
    if spec.enable_lazy_state is not None:
        out["enable_lazy_state"] = spec.enable_lazy_state
    out["public"] = not spec.ingress_private
    input_schema = spec.input_schema
    output_schema = spec.output_schema
    out["input_description"] = _describe(input_schema, spec.accept) if spec.takes_input else "none"
    out["output_description"] = _describe(output_schema, spec.content_type)
    if input_schema is not None:
        out["input_json_schema"] = input_schema
    if output_schema is not None:
        out["output_json_schema"] = output_schema
    out["retry_policy"] = _handler_retry(spec.retry_policy)
    return out


def service_metadata(svc: AnyService, default_policy: RetryPolicy, retention_ms: int) -> dict[str, Any]:
    defn = svc.definition
    policy = (
        defn.invocation_retry_policy.to_policy(default_policy)
        if defn.invocation_retry_policy is not None
        else default_policy
    )
    out: dict[str, Any] = {
        "name": svc.name,
        "ty": SERVICE_TYPES[svc.service_kind],
        "handlers": [handler_metadata(h) for h in sorted(svc.handlers.values(), key=lambda h: h.name)],
    }
    if defn.description:
        out["documentation"] = defn.description
    if defn.metadata:
        out["metadata"] = dict(defn.metadata)
    out["deployment_id"] = svc.deployment_id if isinstance(svc, RemoteService) else LOCAL_DEPLOYMENT_ID
    out["revision"] = 1
    out["public"] = not defn.ingress_private
    out["idempotency_retention"] = friendly(_ms(defn.idempotency_retention) or retention_ms)
    if svc.service_kind == "workflow":
        main = next((h for h in svc.handlers.values() if h.kind == "workflow"), None)
        kept = main.idempotency_retention if main is not None else None
        out["workflow_completion_retention"] = friendly(_ms(kept) or retention_ms)
    if defn.journal_retention is not None:
        out["journal_retention"] = friendly(_ms(defn.journal_retention) or 0)
    out["inactivity_timeout"] = friendly(_ms(defn.inactivity_timeout) or INACTIVITY_TIMEOUT_MS)
    out["abort_timeout"] = friendly(_ms(defn.abort_timeout) or ABORT_TIMEOUT_MS)
    out["enable_lazy_state"] = bool(defn.enable_lazy_state)
    out["retry_policy"] = {
        "initial_interval": friendly(policy.initial_interval_ms),
        "exponentiation_factor": policy.factor,
        "max_attempts": policy.max_attempts,
        "max_interval": friendly(policy.max_interval_ms),
        "on_max_attempts": policy.on_max_attempts.capitalize(),
    }
    return out
