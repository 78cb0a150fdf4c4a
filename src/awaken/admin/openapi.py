"""The OpenAPI 3.1 document of the admin API, served at `GET /openapi.json`."""

from __future__ import annotations

import re
from typing import Any

from awaken.admin.query import OPENAPI_PATHS as QUERY_PATHS
from awaken.storage.protocol import Status


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


_ERROR = _json(
    "error (Restate's ErrorDescriptionResponse)",
    {
        "type": "object",
        "properties": {"message": {"type": "string"}, "restate_code": {"type": "string"}},
        "required": ["message"],
    },
)
_DURATION = {"type": "string", "description": "a friendly duration, as Restate writes them: 1d, 1m, 500ms"}
_HANDLER = {
    "type": "object",
    "description": "Restate's HandlerMetadata",
    "properties": {
        "name": {"type": "string"},
        "ty": {"type": "string", "enum": ["Exclusive", "Shared", "Workflow"]},
        "documentation": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "idempotency_retention": _DURATION,
        "journal_retention": _DURATION,
        "inactivity_timeout": _DURATION,
        "abort_timeout": _DURATION,
        "enable_lazy_state": {"type": "boolean"},
        "public": {"type": "boolean"},
        "input_description": {"type": "string"},
        "output_description": {"type": "string"},
        "input_json_schema": {},
        "output_json_schema": {},
        "retry_policy": {"type": "object"},
    },
    "required": ["name", "public", "input_description", "output_description", "retry_policy"],
}
_SERVICE_METADATA = {
    "type": "object",
    "description": "Restate's ServiceMetadata",
    "properties": {
        "name": {"type": "string"},
        "ty": {"type": "string", "enum": ["Service", "VirtualObject", "Workflow"]},
        "handlers": {"type": "array", "items": _HANDLER},
        "documentation": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "deployment_id": {"type": "string"},
        "revision": {"type": "integer"},
        "public": {"type": "boolean"},
        "idempotency_retention": _DURATION,
        "workflow_completion_retention": _DURATION,
        "journal_retention": _DURATION,
        "inactivity_timeout": _DURATION,
        "abort_timeout": _DURATION,
        "enable_lazy_state": {"type": "boolean"},
        "retry_policy": {
            "type": "object",
            "properties": {
                "initial_interval": _DURATION,
                "exponentiation_factor": {"type": "number"},
                "max_attempts": {"type": ["integer", "null"]},
                "max_interval": _DURATION,
                "on_max_attempts": {"type": "string", "enum": ["Pause", "Kill"]},
            },
        },
    },
    "required": ["name", "ty", "handlers", "deployment_id", "revision", "public"],
}
_DEPLOYMENT = {
    "type": "object",
    "description": "Restate's DeploymentResponse (services are {name, revision} in the list)",
    "properties": {
        "id": {"type": "string"},
        "uri": {"type": "string"},
        "protocol_type": {"type": "string", "enum": ["BidiStream", "RequestResponse"]},
        "http_version": {"type": "string"},
        "additional_headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "created_at": {"type": "string", "format": "date-time"},
        "min_protocol_version": {"type": "integer"},
        "max_protocol_version": {"type": "integer"},
        "protocol_version": {"type": "integer"},
        "sdk_version": {"type": ["string", "null"]},
        "services": {"type": "array"},
    },
    "required": ["id", "services"],  # the app's own (local) deployment has no uri
}
_REGISTERED = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "services": {"type": "array", "items": _SERVICE_METADATA},
        "min_protocol_version": {"type": "integer"},
        "max_protocol_version": {"type": "integer"},
        "sdk_version": {"type": ["string", "null"]},
    },
    "required": ["id", "services"],
}
_DEPLOYMENT_ID = {"name": "deployment", "in": "path", "required": True, "schema": {"type": "string"}}
# What the server takes for an invocation id (400 otherwise; 404 if it names none).
INVOCATION_ID_PATTERN = re.compile(r"inv_1[0-9A-Za-z]{33}")
_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": f"^{INVOCATION_ID_PATTERN.pattern}$"},
}
_SERVICE = {"name": "service", "in": "path", "required": True, "schema": {"type": "string"}}
_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100_000}}
_STATUS = {"type": "string", "enum": [s.value for s in Status]}
_TIME = "ms since the epoch, or an RFC 3339 time"
_TIME_SCHEMA = {
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        {"type": "string", "format": "date-time"},
    ]
}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": schema or {"type": "string"}}


_RESULT = _json(
    "done",
    {"type": "object", "properties": {"invocation_id": {"type": "string"}, "result": {"type": "string"}}},
)


def _action(summary: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    responses = {"200": _RESULT, "400": _ERROR, "404": _ERROR, "409": _ERROR, **(extra or {})}
    return {"patch": {"summary": summary, "parameters": [_ID], "responses": responses}}


# What core.ids.parse_awakeable_id accepts: 28 bytes of base64url (the last character carries 2
# bits, so it is one of four), padding allowed; anything else is a 400.
AWAKEABLE_ID_PATTERN = r"^(sign|prom)_1[A-Za-z0-9_-]{37}[AQgw]=*$"
_AWAKEABLE = {
    "name": "awakeable",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": AWAKEABLE_ID_PATTERN},
}
_VALIDATION_ERROR = _json(
    "the payload fails the awakeable's type: `errors` lists why",
    {
        "type": "object",
        "properties": {"message": {"type": "string"}, "errors": {"type": "array"}},
        "required": ["message"],
    },
)


def _completion(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    """A completion by hand, with the ingress's answers (SPEC §3.3)."""
    return {
        "post": {
            "summary": summary,
            "parameters": [_AWAKEABLE],
            "requestBody": {"required": False, "content": {"application/json": {"schema": body}}},
            "responses": {
                "202": _json(
                    "Accepted, or PreviouslyAccepted for the same completion again",
                    {
                        "type": "object",
                        "properties": {
                            "status": {"type": "string", "enum": ["Accepted", "PreviouslyAccepted"]}
                        },
                    },
                ),
                "400": _VALIDATION_ERROR,
                "404": _ERROR,
                "409": _json(
                    "completed differently already", _ERROR["content"]["application/json"]["schema"]
                ),
                "410": _json(
                    "its deadline passed or its invocation ended",
                    _ERROR["content"]["application/json"]["schema"],
                ),
            },
        }
    }


PATHS: dict[str, dict[str, Any]] = {
    "/health": {
        "get": {
            "summary": "Liveness: 503 with the reason while the storage cannot write",
            "responses": {"200": _json("ok"), "503": _json("the storage cannot write")},
        }
    },
    "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1")}}},
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "responses": {"200": {"description": "text format 0.0.4", "content": {"text/plain": {}}}},
        }
    },
    "/services": {
        "get": {
            "summary": "Services, their kinds and handlers (Restate's ListServicesResponse)",
            "responses": {
                "200": _json(
                    "services",
                    {
                        "type": "object",
                        "properties": {"services": {"type": "array", "items": _SERVICE_METADATA}},
                    },
                )
            },
        }
    },
    "/services/{service}": {
        "get": {
            "summary": "One service: handlers, kinds, input and output JSON schemas, retention, retry policy",
            "parameters": [_SERVICE],
            "responses": {"200": _json("service", _SERVICE_METADATA), "404": _ERROR},
        }
    },
    "/deployments": {
        "get": {
            "summary": "Registered deployments (handlers served elsewhere, over Restate's service protocol)",
            "responses": {
                "200": _json(
                    "deployments",
                    {
                        "type": "object",
                        "properties": {"deployments": {"type": "array", "items": _DEPLOYMENT}},
                    },
                )
            },
        },
        "post": {
            "summary": "Discover and register the deployment at `uri` (201; 200 if the same one is "
            "registered already; 409 for an incompatible change unless `force`)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "uri": {"type": "string", "pattern": "^https?://"},
                                "additional_headers": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                                "use_http_11": {"type": "boolean"},
                                "force": {"type": "boolean"},
                                "breaking": {"type": "boolean"},
                                "dry_run": {"type": "boolean"},
                            },
                            "required": ["uri"],
                        }
                    }
                },
            },
            "responses": {
                "201": _json("registered", _REGISTERED),
                "200": _json("already registered", _REGISTERED),
                "400": _ERROR,
                "409": _ERROR,
            },
        },
    },
    "/deployments/{deployment}": {
        "get": {
            "summary": "One deployment, with its services described in full",
            "parameters": [_DEPLOYMENT_ID],
            "responses": {"200": _json("deployment", _DEPLOYMENT), "404": _ERROR},
        },
        "delete": {
            "summary": "Remove a deployment (409 while invocations pinned to it have not completed, "
            "unless force=true)",
            "parameters": [
                _DEPLOYMENT_ID,
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            ],
            "responses": {"202": {"description": "removed"}, "404": _ERROR, "409": _ERROR},
        },
    },
    "/services/{service}/state": {
        "post": {
            "summary": "Replace the whole state of a key (409 while an invocation holds it)",
            "parameters": [_SERVICE],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"object_key": {"type": "string"}, "new_state": {"type": "object"}},
                            "required": ["object_key", "new_state"],
                        }
                    }
                },
            },
            "responses": {"202": _json("replaced"), "400": _ERROR, "404": _ERROR, "409": _ERROR},
        }
    },
    "/services/{service}/state/{key}": {
        "get": {
            "summary": "The state of a virtual object or workflow key",
            "parameters": [_SERVICE, _KEY],
            "responses": {"200": _json("state"), "400": _ERROR, "404": _ERROR},
        }
    },
    "/invocations": {
        "get": {
            "summary": "Invocations, newest first, filtered; a full page gives `next_page`, the `before` "
            "of the next one",
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "description": "any of these statuses (comma-separated, or the parameter repeated)",
                    "style": "form",
                    "explode": False,
                    "schema": {
                        "type": "array",
                        "minItems": 1,  # an empty `status=` is refused (400)
                        "items": {"type": "string", "enum": [s.value for s in Status]},
                    },
                },
                _query("service", "only invocations of this service"),
                _query("handler", "only invocations of this handler"),
                _query("key", "only invocations of this virtual object or workflow key"),
                _query("created_after", "created at or after this time: " + _TIME, _TIME_SCHEMA),
                _query("created_before", "created before this time: " + _TIME, _TIME_SCHEMA),
                _query(
                    "before",
                    "the `next_page` of the previous page (opaque)",
                    {"type": "string", "pattern": r"^[0-9]{1,18}\..+$"},
                ),
                _LIMIT,
            ],
            "responses": {
                "200": _json(
                    "invocations",
                    {
                        "type": "object",
                        "properties": {
                            "invocations": {"type": "array", "items": {"type": "object"}},
                            "next_page": {"type": ["string", "null"]},
                        },
                        "required": ["invocations", "next_page"],
                    },
                ),
                "400": _ERROR,
                "401": _ERROR,
            },
        }
    },
    "/invocations/counts": {
        "get": {
            "summary": "Invocations per status, of those that match the filters (as `GET /invocations`)",
            "parameters": [
                _query("service", "only invocations of this service"),
                _query("handler", "only invocations of this handler"),
                _query("key", "only invocations of this virtual object or workflow key"),
                _query("created_after", "created at or after this time: " + _TIME, _TIME_SCHEMA),
                _query("created_before", "created before this time: " + _TIME, _TIME_SCHEMA),
            ],
            "responses": {
                "200": _json(
                    "counts", {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
                ),
                "400": _ERROR,
            },
        }
    },
    "/invocations/{id}": {
        "get": {
            "summary": "One invocation with its journal; each entry has `created_at` (appended) and "
            "`completed_at` (its result recorded), ms since the epoch",
            "parameters": [_ID],
            "responses": {"200": _json("invocation"), "400": _ERROR, "404": _ERROR},
        },
        "delete": {
            "summary": "Restate's legacy cancel, kill or purge: 202 once asked, whatever the state",
            "deprecated": True,
            "parameters": [
                _ID,
                {
                    "name": "mode",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["cancel", "kill", "purge"]},
                },
            ],
            "responses": {"202": {"description": "accepted"}, "400": _ERROR, "404": _ERROR},
        },
    },
    "/invocations/{id}/cancel": _action(
        "Cancel: 200 if it had not started, 202 if its handler raises the cancellation at its next await",
        {"202": _RESULT},
    ),
    "/invocations/{id}/kill": _action("Kill: end at once with 409 killed, with the calls it waits on"),
    "/invocations/{id}/pause": _action("Pause a running, suspended or backing-off invocation"),
    "/invocations/{id}/purge": _action("Delete a completed invocation now"),
    "/invocations/{id}/resume": _action("Run a paused invocation again"),
    "/awakeables": {
        "get": {
            "summary": "Pending awakeables, with deadline and expected JSON schema",
            "parameters": [_LIMIT],
            "responses": {"200": _json("awakeables"), "400": _ERROR},
        }
    },
    "/awakeables/{awakeable}/resolve": _completion(
        "Resolve a pending awakeable with the body, any JSON value (none: null)", {}
    ),
    "/awakeables/{awakeable}/reject": _completion(
        "Reject a pending awakeable: its handler's await raises TerminalError(reason, code)",
        {
            "type": "object",
            "properties": {
                "reason": {"type": "string", "minLength": 1},
                "code": {"type": "integer", "minimum": 400, "maximum": 599, "default": 500},
            },
            "required": ["reason"],
        },
    ),
}
PATHS.update(QUERY_PATHS)


def document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "awaken admin API", "version": version},
        "paths": PATHS,
        # With --admin-token / AWAKEN_ADMIN_TOKEN every request needs it (401 otherwise).
        "components": {"securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}}},
    }
