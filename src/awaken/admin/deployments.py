"""`/deployments` of the admin API, in Restate's shapes: register (`POST`: 201 and a `Location`
for a new deployment, 200 for an identical one, 409 for an incompatible change unless `force`),
list, describe and delete (`DELETE /deployments/{id}?force=`: 202).

awaken's own services are listed under one fixed deployment (`LOCAL_DEPLOYMENT_ID`), as the
admin API describes them, so that tools which read every service's deployment find it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from awaken.admin.metadata import LOCAL_DEPLOYMENT_ID, service_metadata
from awaken.core.jsonvalue import loads_strict
from awaken.ingress.errors import HttpError, method_not_allowed
from awaken.ingress.http import HttpRequest, Send, respond, respond_json
from awaken.protocol.versions import SUPPORTED_VERSIONS
from awaken.storage.protocol import DeploymentRecord

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

_REGISTER_FIELDS = {
    "uri",
    "additional_headers",
    "use_http_11",
    "force",
    "breaking",
    "dry_run",
    "metadata",
    "arn",
    "assume_role_arn",
}
LOCAL_DEPLOYMENT_URI = "awaken://local"
_PROTOCOL_TYPES = {"BIDI_STREAM": "BidiStream", "REQUEST_RESPONSE": "RequestResponse"}
_HTTP_VERSIONS = {"2": "HTTP/2.0", "1.1": "HTTP/1.1"}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _services(engine: Engine, deployment_id: str) -> list[dict[str, Any]]:
    config = engine.config
    services = engine.deployments.services_of(deployment_id)
    return [service_metadata(s, config.retry_policy, config.retention_ms) for s in services]


def deployment_json(engine: Engine, record: DeploymentRecord, detailed: bool) -> dict[str, Any]:
    """Restate's `DeploymentResponse` (list) or `DetailedDeploymentResponse` (one)."""
    manifest = record.manifest
    services = _services(engine, record.id)
    return {
        "id": record.id,
        "uri": record.uri,
        "protocol_type": _PROTOCOL_TYPES.get(record.protocol_mode, record.protocol_mode),
        "http_version": _HTTP_VERSIONS.get(record.http_version, record.http_version),
        "additional_headers": dict(record.additional_headers),
        "created_at": _iso(record.created_at_ms),
        "min_protocol_version": manifest.get("minProtocolVersion"),
        "max_protocol_version": manifest.get("maxProtocolVersion"),
        "protocol_version": record.protocol_version,
        "sdk_version": record.sdk_version,
        "services": services
        if detailed
        else [{"name": s["name"], "revision": s["revision"]} for s in services],
    }


def _local_deployment(engine: Engine, detailed: bool) -> dict[str, Any]:
    """This process's own services, as one deployment in Restate's shape (its `uri` names no
    endpoint: they run in the engine's process)."""
    config = engine.config
    services = [
        service_metadata(s, config.retry_policy, config.retention_ms) for s in engine.local_services.values()
    ]
    return {
        "id": LOCAL_DEPLOYMENT_ID,
        "uri": LOCAL_DEPLOYMENT_URI,
        "protocol_type": "BidiStream",
        "http_version": "HTTP/2.0",
        "created_at": _iso(engine.started_at_ms),
        "min_protocol_version": int(min(SUPPORTED_VERSIONS)),
        "max_protocol_version": int(max(SUPPORTED_VERSIONS)),
        "services": services
        if detailed
        else [{"name": s["name"], "revision": s["revision"]} for s in services],
    }


def _register_body(raw: bytes) -> dict[str, Any]:
    try:
        body = loads_strict(raw)
    except ValueError as exc:
        raise HttpError(400, f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise HttpError(400, 'expected {"uri": "http://host:port", ...}')
    unknown = sorted(set(body) - _REGISTER_FIELDS)
    if unknown:
        raise HttpError(400, f"unknown field(s) {', '.join(unknown)} in the registration")
    if "arn" in body:
        raise HttpError(
            400,
            "Lambda ARNs are not supported: register the function's URL (a function URL serves "
            "the protocol in request/response mode)",
        )
    uri = body.get("uri")
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
        raise HttpError(400, "Invalid field 'uri': expected an http:// or https:// URL")
    headers = body.get("additional_headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise HttpError(400, "Invalid field 'additional_headers': expected an object of strings")
    for name in ("use_http_11", "force", "breaking", "dry_run"):
        if name in body and not isinstance(body[name], bool):
            raise HttpError(400, f"Invalid field '{name}': expected true or false")
    return body


async def route(engine: Engine, req: HttpRequest, send: Send, seg: list[str]) -> None:
    deployments = engine.deployments
    if len(seg) == 1:
        if req.method == "GET":
            await deployments.load()
            listed = [deployment_json(engine, r, detailed=False) for r in deployments.records.values()]
            if engine.local_services:  # after the registered ones (oldest first)
                listed.append(_local_deployment(engine, detailed=False))
            await respond_json(send, 200, {"deployments": listed})
            return
        if req.method != "POST":
            raise method_not_allowed(req.method, "GET", "POST")
        body = _register_body(await req.body())
        registration = await deployments.register(
            body["uri"],
            additional_headers=body.get("additional_headers") or {},
            use_http_11=bool(body.get("use_http_11", False)),
            force=bool(body.get("force", False) or body.get("breaking", False)),
            dry_run=bool(body.get("dry_run", False)),
        )
        record = registration.deployment
        manifest = record.manifest
        out = {
            "id": record.id,
            "services": _services(engine, record.id) if not body.get("dry_run") else [],
            "min_protocol_version": manifest.get("minProtocolVersion"),
            "max_protocol_version": manifest.get("maxProtocolVersion"),
            "sdk_version": record.sdk_version,
        }
        if registration.created:
            location = f"/deployments/{record.id}".encode()
            await respond_json(send, 201, out, [(b"location", location)])
        else:
            await respond_json(send, 200, out)
        return
    if len(seg) != 2:
        raise HttpError(404, "not found")
    deployment_id = seg[1]
    if req.method == "GET":
        if deployment_id == LOCAL_DEPLOYMENT_ID:
            await respond_json(send, 200, _local_deployment(engine, detailed=True))
            return
        await deployments.load()
        await respond_json(send, 200, deployment_json(engine, deployments.get(deployment_id), detailed=True))
    elif req.method == "DELETE":
        force = req.query.get("force", ["false"])[-1].lower() in ("true", "1", "yes")
        await deployments.delete(deployment_id, force)
        await respond(send, 202)
    else:
        raise method_not_allowed(req.method, "GET", "DELETE")
