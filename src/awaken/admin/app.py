"""Admin API: services, invocations and pending awakeables, as JSON; cancel, kill, purge and
resume invocations (`PATCH /invocations/{id}/cancel|kill|pause|purge|resume`, as Restate's admin API);
resolve or reject an awakeable (`awaken.admin.awakeables`); and the web UI's files under `/ui`
(`awaken.admin.static`), which load without the token.

Services are described in Restate's shapes (`awaken.admin.metadata`), and errors answer with
Restate's admin error body, `{"message": "..."}`.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from awaken.admin import awakeables, deployments, openapi, query, static
from awaken.admin.metadata import service_metadata
from awaken.admin.openapi import INVOCATION_ID_PATTERN
from awaken.core.ids import InvocationId
from awaken.core.journal import Entry, Outcome
from awaken.core.jsonvalue import loads_strict
from awaken.engine.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from awaken.errors import AwakenError, BadRequest, Conflict, NotFound
from awaken.ingress.errors import HttpError, method_not_allowed, status_for
from awaken.ingress.http import JSON_HEADERS, HttpRequest, Receive, Scope, Send, respond, respond_json
from awaken.protocol.journal import describe
from awaken.storage.protocol import InvocationFilter, InvocationRecord, Status, page_cursor

if TYPE_CHECKING:
    from awaken.application import AwakenApp

log = logging.getLogger("awaken.admin")


def invocation_json(record: InvocationRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "target": "/".join(p for p in (record.service, record.key, record.handler) if p is not None),
        "service": record.service,
        "handler": record.handler,
        "key": record.key,
        "status": record.status.value,
        "created_at": record.created_at_ms,
        "modified_at": record.modified_at_ms,
        "attempts": record.attempts,
        "idempotency_key": record.idempotency_key,
        "last_failure": record.last_failure,
        "completed_at": record.completed_at_ms,
        "run_at": record.run_at_ms,  # a scheduled one starts, a backing-off one retries, then
        "epoch": record.epoch,  # how many times it was claimed (attempts and resumptions)
        "caller_id": None if record.caller is None else record.caller.invocation_id,
    }
    if record.outcome is not None:
        out["completion_result"] = "success" if record.outcome.ok else "failure"
        if record.outcome.failure is not None:
            out["completion_failure"] = asdict(record.outcome.failure)
    return out


class AdminApp:
    """The admin API of `app`. With `token`, every request must carry `authorization: Bearer
    <token>` (401 otherwise)."""

    def __init__(self, app: AwakenApp, token: str | None = None) -> None:
        self.app = app
        self._token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if static.is_ui_path(scope["path"]):
            await static.serve(scope["method"], scope["path"], send)
            return
        if self._token is not None and not self._authorized(scope):
            message = "missing or wrong admin token: send 'authorization: Bearer <token>'"
            await _respond_error(send, 401, message, [(b"www-authenticate", b'Bearer realm="awaken"')])
            return
        try:
            req = HttpRequest.from_scope(scope, receive, 1024 * 1024)
            await self._route(req, send)
        except (HttpError, AwakenError) as exc:
            details = exc.details if isinstance(exc, BadRequest) else None
            headers = exc.headers if isinstance(exc, HttpError) else None
            await _respond_error(send, status_for(exc), _message(exc), headers, errors=details)
        except Exception as exc:
            log.exception("admin: unexpected error")
            await _respond_error(send, 500, f"internal error: {type(exc).__name__}: {exc}")

    def _authorized(self, scope: Scope) -> bool:
        assert self._token is not None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                scheme, _, given = value.partition(b" ")
                # constant time: the comparison must not tell how much of a guess was right
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token)
        return False

    async def _route(self, req: HttpRequest, send: Send) -> None:
        engine = self.app.engine
        if engine is None:
            raise HttpError(503, "engine not started")
        seg = req.segments
        if seg and seg[0] in _API_VERSIONS:  # Restate's versioned paths: /v4/services is /services
            seg = seg[1:]
        if seg == ["query"]:
            if req.method != "POST":
                raise method_not_allowed(req.method, "POST")
            await query.respond_query(engine, req, send)
            return
        if len(seg) == 3 and seg[0] == "invocations" and seg[2] in _ACTIONS:
            if req.method != "PATCH":
                raise method_not_allowed(req.method, "PATCH")
            await self._act(send, _invocation_id(seg[1]), seg[2])
            return
        if len(seg) == 2 and seg[0] == "invocations" and seg[1] != "counts" and req.method == "DELETE":
            await self._delete(req, send, _invocation_id(seg[1]))
            return
        if len(seg) == 3 and seg[0] == "services" and seg[2] == "state":
            if req.method != "POST":
                raise method_not_allowed(req.method, "POST")
            await self._replace_state(req, send, seg[1])
            return
        if len(seg) == 3 and seg[0] == "awakeables" and seg[2] in ("resolve", "reject"):
            await awakeables.complete(engine, req, send, seg[1], seg[2])
            return
        if seg and seg[0] == "deployments":
            await deployments.route(engine, req, send, seg)
            return
        if req.method != "GET":
            if len(seg) == 2 and seg[0] == "invocations" and seg[1] != "counts":
                raise method_not_allowed(req.method, "GET", "DELETE")
            raise method_not_allowed(req.method, "GET")
        if len(seg) == 4 and seg[0] == "services" and seg[2] == "state":
            self._keyed_service(seg[1])
            state = await engine.store.get_state(seg[1], seg[3])
            body = {
                "service": seg[1],
                "key": seg[3],
                "state": {n: _state_json(v) for n, v in sorted(state.items())},
            }
            await respond_json(send, 200, body)
        elif len(seg) == 2 and seg[0] == "services":
            svc = engine.services.get(seg[1])
            if svc is None:
                raise HttpError(404, f"service '{seg[1]}' not found")
            config = engine.config
            await respond_json(send, 200, service_metadata(svc, config.retry_policy, config.retention_ms))
        elif seg == ["metrics"]:
            counts = await engine.store.count_invocations()
            stats = getattr(engine.store, "stats", None)
            storage = stats() if callable(stats) else {}
            text = engine.metrics.render(counts, engine.live_count, storage)
            await respond(send, 200, text, [(b"content-type", METRICS_CONTENT_TYPE.encode())])
        elif seg == ["openapi.json"]:
            await respond_json(send, 200, openapi.document(_version()))
        elif seg == ["health"]:  # 503 while the storage cannot write, so that a supervisor acts
            problem = engine.storage_problem()
            if problem is not None:
                await respond_json(send, 503, {"status": "unavailable", "message": problem})
            else:
                await respond_json(send, 200, {"status": "ok"})
        elif seg == ["version"]:
            await respond_json(send, 200, query.version_json(_version()))
        elif seg == ["services"]:
            config = engine.config
            services = [
                service_metadata(s, config.retry_policy, config.retention_ms)
                for s in engine.services.values()
            ]
            await respond_json(send, 200, {"services": services})
        elif seg == ["awakeables"]:
            limit = _limit(req)
            rows = await engine.store.list_awakeables(limit=limit)
            await respond_json(send, 200, {"awakeables": [awakeables.awakeable_json(a) for a in rows]})
        elif seg == ["invocations", "counts"]:
            # the list's filters narrow the counts (its status filter aside)
            counts = await engine.store.count_invocations(_invocation_filter(req))
            await respond_json(send, 200, {status.value: n for status, n in sorted(counts.items())})
        elif seg == ["invocations"]:
            limit = _limit(req)
            before = req.query.get("before", [None])[-1]  # an empty one is no cursor: 400
            records = await engine.store.list_invocations(_invocation_filter(req), limit, before)
            page = {
                "invocations": [invocation_json(r) for r in records],
                "next_page": page_cursor(records[-1]) if len(records) == limit else None,
            }
            await respond_json(send, 200, page)
        elif len(seg) == 2 and seg[0] == "invocations":
            record = await engine.get_invocation(_invocation_id(seg[1]))
            journal = await engine.store.get_journal(record.id)
            times = {t.index: t for t in await engine.store.get_journal_times(record.id)}
            out = invocation_json(record)
            out["input"] = _state_json(record.input)
            out["output"] = _outcome_json(record.outcome)
            out["journal"] = [
                {
                    **(_remote_entry_json(e) if record.remote else _entry_json(e)),
                    "created_at": times[e.index].created_at_ms if e.index in times else None,
                    "completed_at": times[e.index].completed_at_ms if e.index in times else None,
                }
                for e in journal
            ]
            if record.remote:
                out["deployment_id"] = record.deployment_id
                out["protocol_version"] = record.protocol_version
            await respond_json(send, 200, out)
        else:
            raise HttpError(404, "not found")

    async def _act(self, send: Send, invocation_id: str, action: str) -> None:
        engine = self.app.engine
        assert engine is not None
        if action in ("cancel", "kill"):
            result = await engine.cancel_invocation(invocation_id, kill=action == "kill")
            if result.done:
                # awaken spells it "cancelled"; the invocation's 409 message stays Restate's "canceled"
                done = "cancelled" if action == "cancel" else "killed"
                await respond_json(send, 200, {"invocation_id": invocation_id, "result": done})
            else:  # the handler raises it at its next await
                await respond_json(send, 202, {"invocation_id": invocation_id, "result": "cancel requested"})
        elif action == "pause":
            await engine.pause_invocation(invocation_id)
            await respond_json(send, 200, {"invocation_id": invocation_id, "result": "paused"})
        elif action == "purge":
            await engine.purge_invocation(invocation_id)
            await respond_json(send, 200, {"invocation_id": invocation_id, "result": "purged"})
        else:
            await engine.resume_invocation(invocation_id)
            await respond_json(send, 200, {"invocation_id": invocation_id, "result": "resumed"})

    async def _delete(self, req: HttpRequest, send: Send, invocation_id: str) -> None:
        """Restate's legacy `DELETE /invocations/{id}?mode=cancel|kill|purge` (default cancel): 202
        once asked, whether or not there was anything to end (Restate does not look either)."""
        engine = self.app.engine
        assert engine is not None
        mode = req.query.get("mode", ["cancel"])[-1]
        if mode not in ("cancel", "kill", "purge"):
            raise HttpError(400, f"Invalid field 'mode': expected cancel, kill or purge, not {mode!r}")
        try:
            if mode == "purge":
                await engine.purge_invocation(invocation_id)
            else:
                await engine.cancel_invocation(invocation_id, kill=mode == "kill")
        except (NotFound, Conflict) as exc:
            log.info("admin: DELETE /invocations/%s?mode=%s: %s", invocation_id, mode, exc)
        await respond(send, 202)

    def _keyed_service(self, name: str) -> None:
        engine = self.app.engine
        assert engine is not None
        svc = engine.services.get(name)
        if svc is None:
            raise HttpError(404, f"service '{name}' not found")
        if svc.service_kind == "service":
            raise HttpError(400, f"service '{name}' has no keys and no state")

    async def _replace_state(self, req: HttpRequest, send: Send, service: str) -> None:
        """`POST /services/{s}/state` (Restate's path and body shape): `{"object_key": K,
        "new_state": {name: value}}` replaces the key's whole state. A value is stored as its
        JSON text (what the default serde reads); `{"$base64": "..."}` stores raw bytes (what
        GET answers for a value that is not JSON)."""
        engine = self.app.engine
        assert engine is not None
        self._keyed_service(service)
        try:
            body = loads_strict(await req.body())
        except ValueError as exc:
            raise HttpError(400, f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("object_key"), str):
            raise HttpError(400, 'expected {"object_key": "<key>", "new_state": {"<name>": <value>}}')
        new_state = body.get("new_state")
        if not isinstance(new_state, dict):
            raise HttpError(400, "new_state must be an object of state names to values")
        state = {str(name): _state_bytes(name, value) for name, value in new_state.items()}
        await engine.store.replace_state(service, body["object_key"], state)
        await respond_json(send, 202, {"service": service, "key": body["object_key"], "names": sorted(state)})


def _entry_json(e: Entry) -> dict[str, Any]:
    return {
        "index": e.index,
        "kind": e.kind.value,
        "name": e.name,
        "completed": e.completed,
        "data": e.data,
        "payload": None if e.payload is None else _state_json(e.payload),
        "result": _outcome_json(e.outcome),
    }


def _remote_entry_json(e: Entry) -> dict[str, Any]:
    """An entry of a handler served elsewhere: a command of the SDK, or a notification."""
    described = describe(e)
    return {
        "index": e.index,
        "kind": e.kind.value,
        "type": described.pop("type", None),
        "name": e.name,
        "completed": e.completed,
        "data": described,
        "result": _outcome_json(e.outcome),
    }


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, HttpError) else str(exc)


async def _respond_error(
    send: Send,
    status: int,
    message: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    errors: list[object] | None = None,
) -> None:
    """Restate's admin error body (`ErrorDescriptionResponse`), with the validation `errors` of a
    payload that failed a type, where there are some."""
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    await respond(send, status, json.dumps(body).encode(), [*JSON_HEADERS, *(headers or [])])


def _state_json(value: bytes) -> Any:
    """A stored state value as JSON: the value itself if it is JSON text (what the default serde
    writes), else {"$base64": ...}."""
    try:
        return json.loads(value) if value else None
    except ValueError:
        return {"$base64": base64.b64encode(value).decode()}


def _state_bytes(name: str, value: Any) -> bytes:
    if isinstance(value, dict) and set(value) == {"$base64"}:
        try:
            return base64.b64decode(str(value["$base64"]), validate=True)
        except ValueError:
            raise HttpError(400, f"state {name!r}: $base64 is not base64") from None
    return json.dumps(value, separators=(",", ":")).encode()


def _outcome_json(outcome: Outcome | None) -> dict[str, Any] | None:
    """{"value": JSON} or {"failure": {"code", "message"}}; None if there is none yet."""
    if outcome is None:
        return None
    if outcome.failure is not None:
        return {"failure": asdict(outcome.failure)}
    return {"value": None if outcome.value is None else _state_json(outcome.value)}


def _invocation_filter(req: HttpRequest) -> InvocationFilter:
    """The filter of `GET /invocations?status=&service=&handler=&key=&created_after=&created_before=`
    (statuses comma-separated or repeated; times in ms since the epoch or RFC 3339)."""
    statuses: set[Status] = set()
    for raw in req.query.get("status", []):
        if not raw.strip():
            raise HttpError(400, "status must name at least one status (or be left out)")
        for name in filter(None, (part.strip() for part in raw.split(","))):
            try:
                statuses.add(Status(name))
            except ValueError:
                known = ", ".join(s.value for s in Status)
                raise HttpError(400, f"unknown status {name!r}: one of {known}") from None

    def text(name: str) -> str | None:
        values = req.query.get(name)
        return values[-1] if values else None

    service, handler = text("service") or None, text("handler") or None
    return InvocationFilter(
        status=frozenset(statuses),
        service=service,
        handler=handler,
        key=text("key"),
        created_after_ms=_time_ms(text("created_after"), "created_after"),
        created_before_ms=_time_ms(text("created_before"), "created_before"),
    )


def _invocation_id(raw: str) -> str:
    """An invocation id of a path: 400 if it is not shaped like one (the OpenAPI document's
    pattern), 404 if it is but names none (its digits overflow, say)."""
    if not INVOCATION_ID_PATTERN.fullmatch(raw):
        return str(InvocationId.parse(raw))  # raises BadRequest, with the reason
    try:
        return str(InvocationId.parse(raw))
    except BadRequest:
        raise NotFound(f"invocation {raw} not found") from None


def _time_ms(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    if raw.isascii() and raw.isdigit():
        if int(raw) >= 2**63:
            raise HttpError(400, f"{name} is out of range: {raw}")
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise HttpError(400, f"{name} must be ms since the epoch or an RFC 3339 time, not {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


_ACTIONS = ("cancel", "kill", "pause", "purge", "resume")
_API_VERSIONS = tuple(f"v{n}" for n in range(1, query.MAX_ADMIN_API_VERSION + 1))


def _limit(req: HttpRequest) -> int:
    raw = req.query.get("limit", ["100"])[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise HttpError(400, f"limit must be a whole number from 1 to 100000, not {raw!r}")
    return int(raw)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("awaken")
    except PackageNotFoundError:
        return "0"
