"""The ingress HTTP API of SPEC §2, with Restate's paths, statuses and bodies."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from awaken.core.durations import parse_duration_ms
from awaken.core.ids import InvocationId, parse_awakeable_id, workflow_invocation_id
from awaken.core.journal import Outcome
from awaken.core.jsonvalue import loads_strict
from awaken.engine.engine import Engine
from awaken.errors import AwakenError
from awaken.ingress.errors import HttpError, body_for, error_body, method_not_allowed
from awaken.ingress.http import (
    BodyBudget,
    HttpRequest,
    Receive,
    Scope,
    Send,
    respond,
    respond_error,
    respond_json,
)
from awaken.sdk.scope import check_limit_key, check_scope, scoped_idempotent_id
from awaken.sdk.service import HandlerDescriptor

log = logging.getLogger("awaken.ingress")

DEFAULT_MAX_BODY = 32 * 1024 * 1024
DEFAULT_MAX_INFLIGHT_BODIES = 128 * 1024 * 1024
_NOT_FORWARDED = {"connection", "host", "idempotency-key", "idempotency-expires", "content-length"}
# Bodies sent without a JSON content type that we still read as JSON: none at all, and what curl
# sends by default with -d (so `curl -d '{"a":1}' .../resolve` works as in Restate's docs).
_LENIENT_TYPES = {"", "application/x-www-form-urlencoded", "text/plain"}


def _is_json_type(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _accepts(accept: str, content_type: str) -> bool:
    """Whether a handler's `accept` (`*/*`, `type/*` or `type/subtype`) admits `content_type`."""
    want_type, _, want_sub = accept.split(";", 1)[0].strip().lower().partition("/")
    got_type, _, got_sub = content_type.partition("/")
    if want_type == "*":
        return True
    if want_type != got_type:
        return False
    if want_sub == "*":
        return True
    return want_sub == got_sub or (want_sub == "json" and _is_json_type(content_type))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


class Ingress:
    def __init__(
        self,
        engine: Engine,
        max_body: int = DEFAULT_MAX_BODY,
        max_inflight_bodies: int = DEFAULT_MAX_INFLIGHT_BODIES,
    ) -> None:
        self.engine = engine
        self.max_body = max_body
        self.bodies = BodyBudget(max_inflight_bodies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: HttpRequest | None = None
        try:
            request = HttpRequest.from_scope(scope, receive, self.max_body, self.bodies)
            await self._route(request, send)
        except (HttpError, AwakenError) as exc:
            status, body = body_for(exc)
            headers = exc.headers if isinstance(exc, HttpError) else None
            await respond_error(send, status, body, headers=headers)
        except Exception as exc:  # never let a request take the server down
            log.exception("ingress: unexpected error")
            status, body = body_for(exc)
            await respond_error(send, status, body)
        finally:
            if request is not None:
                request.release()

    async def _route(self, req: HttpRequest, send: Send) -> None:
        seg = req.segments
        if not seg:
            raise HttpError(400, "bad path: expected /{service}/{handler}")
        if seg[0] == "restate":
            await self._restate_route(req, send, seg[1:])
            return
        await self._invoke_route(req, send, seg)

    # -- /restate/... ------------------------------------------------------------------------
    async def _restate_route(self, req: HttpRequest, send: Send, seg: list[str]) -> None:
        head = seg[0] if seg else ""
        if head == "health" and len(seg) == 1:
            self._method(req, "GET")
            problem = self.engine.storage_problem()
            if problem is not None:  # a supervisor or load balancer should know
                raise HttpError(503, f"the storage cannot write: {problem}")
            await respond_json(send, 200, {"services": sorted(self.engine.services)})
        elif head in ("awakeables", "a") and len(seg) == 3 and seg[2] in ("resolve", "reject"):
            self._method(req, "POST")
            await self._complete_awakeable(req, send, seg[1], seg[2])
        elif head == "invocation" and len(seg) == 3 and seg[2] in ("attach", "output"):
            self._method(req, "GET")
            invocation_id = str(InvocationId.parse(seg[1]))
            await self._attach_or_output(send, invocation_id, seg[2] == "attach")
        elif head == "invocation" and len(seg) in (5, 6) and seg[-1] in ("attach", "output"):
            self._method(req, "GET")
            await self._attach_or_output(send, self._idempotent_target(seg[1:-1]), seg[-1] == "attach")
        elif head in ("attach", "output") and len(seg) == 2:
            self._method(req, "GET")
            await self._attach_or_output(send, str(InvocationId.parse(seg[1])), head == "attach")
        elif head == "workflow" and len(seg) == 4 and seg[3] in ("attach", "output"):
            self._method(req, "GET")
            svc = self.engine.services.get(seg[1])
            if svc is None or svc.service_kind != "workflow":
                raise HttpError(404, f"workflow '{seg[1]}' not found")
            await self._attach_or_output(send, workflow_invocation_id(seg[1], seg[2]), seg[3] == "attach")
        elif head in ("call", "send"):
            if len(seg) < 2:
                raise HttpError(400, f"bad path: expected /restate/{head}/{{service}}[/{{key}}]/{{handler}}")
            await self._invoke_route(req, send, seg[1:], send_path=head == "send")
        elif head == "scope" and len(seg) >= 4 and seg[2] in ("call", "send"):
            try:
                check_scope(seg[1])
            except ValueError as exc:
                raise HttpError(400, str(exc)) from None
            await self._invoke_route(req, send, seg[3:], send_path=seg[2] == "send", scope=seg[1])
        elif head == "scope":
            raise HttpError(
                400, "bad path: expected /restate/scope/{scope}/call|send/{service}[/{key}]/{handler}"
            )
        elif head in ("awakeables", "a"):
            raise HttpError(
                400,
                "bad path, expected either /restate/awakeables/:id/resolve or /restate/awakeables/:id/reject",
            )
        else:
            raise HttpError(404, f"not found: /restate/{'/'.join(seg)}")

    @staticmethod
    def _method(req: HttpRequest, *allowed: str) -> None:
        if req.method not in allowed:
            raise method_not_allowed(req.method, *allowed)

    async def _complete_awakeable(self, req: HttpRequest, send: Send, raw_id: str, action: str) -> None:
        awakeable_id = parse_awakeable_id(raw_id)
        body = await req.body()
        if action == "resolve":
            ctype = req.content_type()
            if not _is_json_type(ctype) and ctype not in _LENIENT_TYPES:
                raise HttpError(415, f"unsupported content type {ctype!r}: the payload must be JSON")
            if body:
                try:
                    loads_strict(body)
                except ValueError as exc:
                    raise HttpError(400, f"the payload is not valid JSON: {exc}") from None
            outcome = Outcome(body or None)
        else:
            outcome = Outcome.fail(500, body.decode("utf-8", errors="replace"))
        result = await self.engine.complete_awakeable(awakeable_id, outcome)
        await respond_json(send, 202, {"status": result.status.value})

    def _idempotent_target(self, seg: list[str]) -> str:
        """The invocation id of `{service}[/{key}]/{handler}/{idempotency-key}` (attach/output by
        idempotency key): computed, as Restate does, from the target and the key."""
        svc = self.engine.services.get(seg[0])
        if svc is None:
            raise HttpError(404, f"service '{seg[0]}' not found")
        keyed = svc.service_kind != "service"
        if len(seg) != (4 if keyed else 3):
            shape = "{object}/{key}/{handler}" if keyed else "{service}/{handler}"
            expected = f"/restate/invocation/{shape}/{{idempotency-key}}/attach|output"
            raise HttpError(400, f"bad path: expected {expected}")
        handler, idem = seg[-2], seg[-1]
        if handler not in svc.handlers:
            raise HttpError(404, f"handler '{seg[0]}/{handler}' not found")
        return scoped_idempotent_id(None, seg[0], seg[1] if keyed else None, handler, idem)

    async def _attach_or_output(self, send: Send, invocation_id: str, attach: bool) -> None:
        id_header = [(b"x-restate-id", invocation_id.encode())]
        if attach:
            outcome = await self.engine.wait_outcome(invocation_id)
        else:
            record = await self.engine.get_invocation(invocation_id)
            if record.outcome is None:
                body = error_body(470, "the invocation exists but has not completed yet", "ingress")
                await respond_error(send, 470, body, headers=id_header)
                return
            outcome = record.outcome
        await self._send_outcome(send, invocation_id, outcome)

    # -- invoking handlers -------------------------------------------------------------------
    def _resolve_target(
        self, seg: list[str], send_path: bool | None = None
    ) -> tuple[HandlerDescriptor, str | None, bool]:
        """(handler, key, is send) of an invocation path. `send_path` is given for the
        /restate/call|send paths, which have no /send suffix."""
        svc = self.engine.services.get(seg[0])
        if svc is None:
            raise HttpError(
                404, f"service '{seg[0]}' not found, make sure to register the service before calling it."
            )
        keyed = svc.service_kind != "service"
        width = 3 if keyed else 2
        suffixed = send_path is None and len(seg) == width + 1 and seg[-1] == "send"
        is_send = suffixed if send_path is None else send_path
        if len(seg) != width + (1 if suffixed else 0):
            shape = "/{object}/{key}/{handler}" if keyed else "/{service}/{handler}"
            raise HttpError(400, f"bad path: expected {shape}[/send]")
        key = seg[1] if keyed else None
        spec = self.engine.handler(seg[0], seg[width - 1])
        return spec, key, is_send

    async def _invoke_route(
        self,
        req: HttpRequest,
        send: Send,
        seg: list[str],
        send_path: bool | None = None,
        scope: str | None = None,
    ) -> None:
        spec, key, is_send = self._resolve_target(seg, send_path)
        self._method(req, "GET", "POST")
        if spec.ingress_private:
            raise HttpError(400, "the invoked service is not public")
        limit_key = req.headers.get("x-restate-limit-key")
        if limit_key is None and "limit-key" in req.query:
            limit_key = req.query["limit-key"][-1]
        try:
            if scope is not None and key is not None:
                raise ValueError(
                    "scoped calls to virtual objects and workflows are not supported by awaken: "
                    "their state is not partitioned by scope"
                )
            if limit_key is not None:
                check_limit_key(limit_key, scope)
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        delay_ms = None
        if "delay" in req.query:
            if not is_send:
                raise HttpError(400, "cannot use the delay query parameter with calls")
            delay_ms = parse_duration_ms(req.query["delay"][-1])
        idempotency_key = req.headers.get("idempotency-key")
        if idempotency_key is not None and spec.kind == "workflow":
            raise HttpError(400, "cannot use the idempotency key with workflow handlers")
        body = await req.body()
        self._check_content_type(spec, req, body)
        headers = {k: v for k, v in req.headers.items() if k not in _NOT_FORWARDED}
        invocation_id = None
        if scope is not None and idempotency_key is not None:
            invocation_id = scoped_idempotent_id(scope, spec.service, key, spec.name, idempotency_key)
        new = self.engine.new_invocation(
            spec, key, body, headers, idempotency_key, delay_ms, invocation_id=invocation_id
        )
        if is_send:
            result = await self.engine.invoke(new)
            answer: dict[str, Any] = {
                "invocationId": new.id,
                "status": "Accepted" if result.created else "PreviouslyAccepted",
            }
            if new.run_at_ms is not None and result.created:
                answer["executionTime"] = _iso(new.run_at_ms)
            await respond_json(send, 202, answer, [(b"x-restate-id", new.id.encode())])
            return
        if spec.kind == "workflow":
            result = await self.engine.invoke(new)
            if not result.created:
                status, err = 409, error_body(409, "the workflow method was already invoked", "invocation")
                await respond_error(send, status, err, "invocation", [(b"x-restate-id", new.id.encode())])
                return
            outcome = await self.engine.wait_outcome(new.id)
        else:
            _, outcome = await self.engine.call(new)
        await self._send_outcome(send, new.id, outcome)

    @staticmethod
    def _check_content_type(spec: HandlerDescriptor, req: HttpRequest, body: bytes) -> None:
        """Only the framing is checked here: the body is decoded by the invocation, as restate-sdk
        does it (a body it cannot decode fails the invocation with 500, "Unable to parse an input
        argument"; a send of it is still accepted)."""
        if not spec.takes_input or not body:
            return
        ctype = req.content_type()
        if ctype and not _accepts(spec.accept, ctype):
            raise HttpError(415, f"unsupported content type {ctype!r}: this handler accepts {spec.accept}")

    async def _send_outcome(self, send: Send, invocation_id: str, outcome: Outcome) -> None:
        id_header = (b"x-restate-id", invocation_id.encode())
        if outcome.failure is not None:
            code = outcome.failure.code
            status = code if 100 <= code <= 599 else 500
            body = error_body(code, outcome.failure.message, "invocation")
            await respond_error(send, status, body, "invocation", [id_header])
            return
        value = outcome.value or b""
        headers = [id_header]
        if value:
            headers.append((b"content-type", b"application/json"))
        await respond(send, 200, value, headers)
