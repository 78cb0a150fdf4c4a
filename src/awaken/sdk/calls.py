"""The context's calls and sends to other handlers, and its cancelling of and attaching to other
invocations: each one journaled as a step (the target's invocation id is decided when journaled).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from awaken.core.ids import InvocationId, new_invocation_id, workflow_invocation_id
from awaken.core.journal import EntryKind
from awaken.errors import BadRequest, TerminalError
from awaken.observability import tracing
from awaken.sdk.context import RestateDurableCallFuture, RestateDurableFuture, SendHandle
from awaken.sdk.futures import CallFuture, DurableFuture, SendHandleImpl
from awaken.sdk.guards import check_scoping
from awaken.sdk.journal_context import JournalContext
from awaken.sdk.scope import scoped_idempotent_id
from awaken.sdk.serde import BytesSerde, DefaultSerde, Serde, resolve_serde
from awaken.sdk.service import handler_spec_of
from awaken.sdk.steps import ms

T = TypeVar("T")


class CallActions(JournalContext):
    """Calls, sends, cancellations and attachments of the context."""

    # -- calls -------------------------------------------------------------------------------
    def _target_id(
        self, service: str, handler: str, key: str | None, idem: str | None, wf: bool, scope: str | None
    ) -> str:
        if wf and key is not None:
            return workflow_invocation_id(service, key)
        if idem is not None:
            return scoped_idempotent_id(scope, service, key, handler, idem)
        return new_invocation_id(self.driver.now_ms(), self.driver.random_bytes(16))

    def _invoke(
        self,
        kind: EntryKind,
        service: str,
        handler: str,
        key: str | None,
        arg: bytes,
        idempotency_key: str | None,
        headers: dict[str, str] | None,
        delay: timedelta | None = None,
        workflow_main: bool = False,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> tuple[int, str]:
        data = None
        if not self.machine.replaying:
            check_scoping(service, key, scope, limit_key)
            data = {
                "service": service,
                "handler": handler,
                "key": key,
                "invocation_id": self._target_id(
                    service, handler, key, idempotency_key, workflow_main, scope
                ),
                "idempotency_key": idempotency_key,
                "headers": headers or {},
                "run_at": self.driver.now_ms() + ms(delay) if delay else None,
            }
            if scope is not None:
                data["scope"] = scope
                data["limit_key"] = limit_key
            data["headers"] = tracing.call_headers(kind.value, data)  # + traceparent
        entry = self._step(kind, f"{service}/{handler}", data=data, payload=arg)
        return entry.index, str(entry.data["invocation_id"])

    def _call(
        self,
        tpe: Any,
        key: str | None,
        arg: Any,
        idem: str | None,
        headers: dict[str, str] | None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> CallFuture[Any]:
        spec = handler_spec_of(tpe)
        payload = spec.input_serde.serialize(arg)
        index, target = self._invoke(
            EntryKind.CALL,
            spec.service,
            spec.name,
            key,
            payload,
            idem,
            headers,
            workflow_main=spec.kind == "workflow",
            scope=scope,
            limit_key=limit_key,
        )
        return CallFuture(self, index, spec.output_serde.deserialize, target)

    def _send(
        self,
        tpe: Any,
        key: str | None,
        arg: Any,
        delay: timedelta | None,
        idem: str | None,
        headers: dict[str, str] | None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> SendHandle:
        spec = handler_spec_of(tpe)
        payload = spec.input_serde.serialize(arg)
        _, target = self._invoke(
            EntryKind.SEND,
            spec.service,
            spec.name,
            key,
            payload,
            idem,
            headers,
            delay,
            workflow_main=spec.kind == "workflow",
            scope=scope,
            limit_key=limit_key,
        )
        return SendHandleImpl(self, target)

    def service_call(
        self, tpe: Any, arg: Any, idempotency_key: str | None = None, headers: dict[str, str] | None = None
    ) -> RestateDurableCallFuture[Any]:
        return self._call(tpe, None, arg, idempotency_key, headers)

    def service_send(
        self,
        tpe: Any,
        arg: Any,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._send(tpe, None, arg, send_delay, idempotency_key, headers)

    def object_call(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[Any]:
        return self._call(tpe, key, arg, idempotency_key, headers)

    def object_send(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._send(tpe, key, arg, send_delay, idempotency_key, headers)

    def workflow_call(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> RestateDurableCallFuture[Any]:
        return self._call(tpe, key, arg, idempotency_key, headers)

    def workflow_send(
        self,
        tpe: Any,
        key: str,
        arg: Any,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> SendHandle:
        return self._send(tpe, key, arg, send_delay, idempotency_key, headers)

    def generic_call(
        self,
        service: str,
        handler: str,
        arg: bytes,
        key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> RestateDurableCallFuture[bytes]:
        index, target = self._invoke(
            EntryKind.CALL,
            service,
            handler,
            key,
            arg,
            idempotency_key,
            headers,
            scope=scope,
            limit_key=limit_key,
        )
        return CallFuture(self, index, BytesSerde().deserialize, target)

    def generic_send(
        self,
        service: str,
        handler: str,
        arg: bytes,
        key: str | None = None,
        send_delay: timedelta | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = None,
        limit_key: str | None = None,
    ) -> SendHandle:
        _, target = self._invoke(
            EntryKind.SEND,
            service,
            handler,
            key,
            arg,
            idempotency_key,
            headers,
            send_delay,
            scope=scope,
            limit_key=limit_key,
        )
        return SendHandleImpl(self, target)

    def cancel_invocation(self, invocation_id: str) -> None:
        """Cancel another invocation (as the admin API's cancel does); nothing happens if it is
        unknown or has completed."""
        try:
            target = str(InvocationId.parse(invocation_id))
        except BadRequest as exc:
            raise TerminalError(str(exc), 400) from None
        self._step(EntryKind.CANCEL, target)

    def attach_invocation(
        self, invocation_id: str, serde: Serde[T] = DefaultSerde(), type_hint: type[T] | None = None
    ) -> RestateDurableFuture[T]:
        """A future of another invocation's outcome (its result, or its TerminalError; 404 if
        there is no such invocation)."""
        try:
            target = str(InvocationId.parse(invocation_id))
        except BadRequest as exc:
            raise TerminalError(str(exc), 400) from None
        entry = self._step(EntryKind.ATTACH, target)
        return DurableFuture(self, entry.index, resolve_serde(serde, type_hint).deserialize)
