"""`/awakeables` of the admin API: the pending ones (SPEC §3.4), and completing one by hand
(`POST /awakeables/{id}/resolve|reject`, what the web UI's form sends). Completion follows the
ingress's rules (SPEC §3.3): 202 `Accepted` or `PreviouslyAccepted`, 400 with the validation
errors for a payload that fails the awakeable's type, 409 for a different completion, 410 once
its deadline passed or its invocation ended."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from awaken.core.ids import parse_awakeable_id
from awaken.core.journal import Outcome
from awaken.core.jsonvalue import loads_strict
from awaken.ingress.errors import HttpError, method_not_allowed
from awaken.ingress.http import HttpRequest, Send, respond_json
from awaken.storage.protocol import AwakeableInfo

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

MAX_REASON = 64 * 1024


def awakeable_json(a: AwakeableInfo) -> dict[str, Any]:
    return {
        "id": a.id,
        "invocation_id": a.invocation_id,
        "service": a.service,
        "handler": a.handler,
        "key": a.key,
        "created_at": a.created_at_ms,
        "deadline": a.deadline_ms,
        "schema": a.schema,
    }


async def complete(engine: Engine, req: HttpRequest, send: Send, raw_id: str, action: str) -> None:
    """Resolve with the body (any JSON value; none is null), or reject with
    `{"reason": "...", "code": 500}` (code optional, 400-599)."""
    if req.method != "POST":
        raise method_not_allowed(req.method, "POST")
    awakeable_id = parse_awakeable_id(raw_id)
    body = await req.body()
    try:
        value = loads_strict(body) if body.strip() else None
    except ValueError as exc:
        raise HttpError(400, f"the body is not JSON: {exc}") from None
    # a resolution is stored as sent, as the ingress does
    outcome = Outcome(body if body.strip() else None) if action == "resolve" else _rejection(value)
    result = await engine.complete_awakeable(awakeable_id, outcome)
    await respond_json(send, 202, {"status": result.status.value})


def _rejection(value: Any) -> Outcome:
    if not isinstance(value, dict) or not isinstance(value.get("reason"), str) or not value["reason"]:
        raise HttpError(400, 'expected {"reason": "<why>", "code": <400-599, default 500>}')
    code = value.get("code", 500)
    if isinstance(code, float) and code.is_integer():  # JSON Schema's integer: 507.0 is one
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
        raise HttpError(400, f"code must be a whole number from 400 to 599, not {code!r}")
    if len(value["reason"]) > MAX_REASON:
        raise HttpError(400, f"the reason is longer than {MAX_REASON} characters")
    return Outcome.fail(code, value["reason"])
