"""Deployments: handlers served elsewhere, registered by URI and discovered through Restate's
service protocol (SPEC §8), kept in the store so that every node serves them.

A registration discovers the endpoint (`GET {uri}/discover`: HTTP/2 first, HTTP/1.1 if asked or
if the endpoint speaks nothing else), negotiates a protocol version, and stores the manifest.
Re-registering an identical deployment is a no-op (200); a changed one, or one that changes the
kind of a service another deployment serves, is refused (409) unless forced. The newest
deployment that serves a service serves its new invocations; an invocation stays on the one it
started on (its pin).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from awaken.core.retry import RetryPolicy
from awaken.errors import BadRequest, Conflict, NotFound
from awaken.protocol import (
    SUPPORTED_VERSIONS,
    DeploymentClient,
    DeploymentError,
    Discovery,
    EndpointManifest,
    ManifestError,
    ProtocolVersion,
    RequestSigner,
    SigningKey,
    UnexpectedStatus,
    UnsupportedVersion,
    negotiate,
    parse_manifest,
)
from awaken.protocol.deployment import header_problem
from awaken.protocol.manifest import HandlerManifest, HandlerType, ServiceManifest, ServiceType
from awaken.sdk.service import (
    HandlerDescriptor,
    HandlerKind,
    InvocationRetryPolicy,
    RemoteService,
    ServiceDefinition,
    ServiceKind,
)
from awaken.storage.protocol import DeploymentRecord

if TYPE_CHECKING:
    from awaken.engine.engine import Engine

log = logging.getLogger("awaken.engine")

_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SERVICE_KINDS: dict[ServiceType, ServiceKind] = {
    ServiceType.SERVICE: "service",
    ServiceType.VIRTUAL_OBJECT: "object",
    ServiceType.WORKFLOW: "workflow",
}
_HANDLER_KINDS: dict[HandlerType, HandlerKind] = {
    HandlerType.EXCLUSIVE: "exclusive",
    HandlerType.SHARED: "shared",
    HandlerType.WORKFLOW: "workflow",
}


def new_deployment_id() -> str:
    """`dp_1` and 22 base62 digits of randomness, Restate's shape."""
    value = int.from_bytes(os.urandom(16), "big")
    digits = []
    for _ in range(22):
        value, rem = divmod(value, 62)
        digits.append(_B62[rem])
    return "dp_1" + "".join(digits)


@dataclass(frozen=True, slots=True)
class Registration:
    deployment: DeploymentRecord
    created: bool  # False: an identical deployment was registered already (or a dry run)


def _ms(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(milliseconds=value)


def _retry_policy(h: HandlerManifest | ServiceManifest) -> InvocationRetryPolicy | None:
    fields = (
        h.retry_policy_initial_interval,
        h.retry_policy_max_interval,
        h.retry_policy_max_attempts,
        h.retry_policy_exponentiation_factor,
        h.retry_policy_on_max_attempts,
    )
    if all(f is None for f in fields):
        return None
    on_max = h.retry_policy_on_max_attempts
    return InvocationRetryPolicy(
        initial_interval=_ms(h.retry_policy_initial_interval),
        exponentiation_factor=h.retry_policy_exponentiation_factor,
        max_interval=_ms(h.retry_policy_max_interval),
        max_attempts=h.retry_policy_max_attempts,
        on_max_attempts=None if on_max is None else ("kill" if on_max.value == "KILL" else "pause"),
    )


def remote_service(
    record: DeploymentRecord, manifest: EndpointManifest, sm: ServiceManifest
) -> RemoteService:
    """A service of a deployment as the engine, the ingress and the admin API see it."""
    kind = _SERVICE_KINDS[sm.ty]
    definition = ServiceDefinition(
        name=sm.name,
        description=sm.documentation,
        metadata=sm.metadata,
        inactivity_timeout=_ms(sm.inactivity_timeout),
        abort_timeout=_ms(sm.abort_timeout),
        journal_retention=_ms(sm.journal_retention),
        idempotency_retention=_ms(sm.idempotency_retention),
        ingress_private=sm.ingress_private,
        invocation_retry_policy=_retry_policy(sm),
        enable_lazy_state=sm.enable_lazy_state,
    )
    for h in sm.handlers:
        handler_kind = sm.handler_kind(h)
        accept = (h.input.content_type if h.input is not None else None) or "*/*"
        content_type = (h.output.content_type if h.output is not None else None) or "application/json"
        retention = h.workflow_completion_retention if handler_kind is HandlerType.WORKFLOW else None
        definition.handlers[h.name] = HandlerDescriptor(
            service=sm.name,
            name=h.name,
            service_kind=kind,
            kind=None if handler_kind is None else _HANDLER_KINDS[handler_kind],
            takes_input=h.input is None or h.input.content_type is not None,
            accept=accept,
            content_type=content_type,
            retry_policy=_retry_policy(h) or definition.invocation_retry_policy,
            idempotency_retention=_ms(retention if retention is not None else h.idempotency_retention)
            or definition.idempotency_retention,
            description=h.documentation,
            metadata=h.metadata,
            inactivity_timeout=_ms(h.inactivity_timeout) or definition.inactivity_timeout,
            abort_timeout=_ms(h.abort_timeout) or definition.abort_timeout,
            journal_retention=_ms(h.journal_retention) or definition.journal_retention,
            ingress_private=bool(h.ingress_private if h.ingress_private is not None else sm.ingress_private),
            enable_lazy_state=h.enable_lazy_state
            if h.enable_lazy_state is not None
            else sm.enable_lazy_state,
            deployment_id=record.id,
            declared_schemas=(
                h.input.json_schema if h.input is not None else None,
                h.output.json_schema if h.output is not None else None,
            ),
        )
    return RemoteService(definition, kind, record.id)


def _fingerprint(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


class Deployments:
    """The registered deployments of an engine, and the services they serve."""

    def __init__(self, engine: Engine, signing_key: SigningKey | None = None) -> None:
        self.engine = engine
        self.signing_key = signing_key
        self.client = DeploymentClient(RequestSigner(signing_key), timeouts=engine.config.remote_timeouts)
        self.records: dict[str, DeploymentRecord] = {}
        self.manifests: dict[str, EndpointManifest] = {}
        self.services: dict[str, RemoteService] = {}
        # (deployment, service) as that deployment declares it: built once, not per attempt.
        self._declared: dict[tuple[str, str], RemoteService] = {}

    async def close(self) -> None:
        await self.client.aclose()

    async def load(self) -> None:
        """Read the deployments from the store (at start, and when a node registered one)."""
        self._use(await self.engine.store.list_deployments())

    async def refresh(self) -> None:
        """Pick up what other nodes registered or removed (polled on a shared store)."""
        records = await self.engine.store.list_deployments()
        if records != list(self.records.values()):
            self._use(records)

    def _use(self, records: list[DeploymentRecord]) -> None:
        manifests: dict[str, EndpointManifest] = {}
        for record in records:
            try:
                manifests[record.id] = parse_manifest(json.dumps(record.manifest))
            except ManifestError as exc:  # stored by an older awaken, say: skip it, loudly
                log.error("deployment %s has a manifest this awaken cannot read: %s", record.id, exc)
        services: dict[str, RemoteService] = {}
        for record in records:  # oldest first: the newest serving a service wins
            manifest = manifests.get(record.id)
            if manifest is None:
                continue
            for sm in manifest.services:
                if sm.name in self.engine.local_services:
                    continue  # a local service of the same name is served here
                services[sm.name] = remote_service(record, manifest, sm)
        self.records = {r.id: r for r in records}
        self.manifests = manifests
        self.services = services
        self._declared = {}

    def get(self, deployment_id: str) -> DeploymentRecord:
        record = self.records.get(deployment_id)
        if record is None:
            raise NotFound(f"deployment '{deployment_id}' not found")
        return record

    def services_of(self, deployment_id: str) -> list[RemoteService]:
        """The services of a deployment as it declares them (some may be served by a newer one)."""
        record, manifest = self.records.get(deployment_id), self.manifests.get(deployment_id)
        if record is None or manifest is None:
            return []
        return [remote_service(record, manifest, sm) for sm in manifest.services]

    def service_of(self, deployment_id: str, service: str, handler: str) -> HandlerDescriptor | None:
        """A handler as the deployment `deployment_id` declares it (an invocation's pin)."""
        declared = self._declared.get((deployment_id, service))
        if declared is None:
            record, manifest = self.records.get(deployment_id), self.manifests.get(deployment_id)
            if record is None or manifest is None:
                return None
            sm = manifest.service(service)
            if sm is None:
                return None
            declared = self._declared[(deployment_id, service)] = remote_service(record, manifest, sm)
        return declared.handlers.get(handler)

    async def _discover(self, uri: str, use_http_11: bool, headers: dict[str, str]) -> Discovery:
        if use_http_11:
            return await self.client.discover(uri, http_version="1.1", headers=headers)
        try:
            return await self.client.discover(uri, http_version="2", headers=headers)
        except DeploymentError as first:
            try:  # an endpoint that speaks only HTTP/1.1 (a plain uvicorn, a function URL)
                return await self.client.discover(uri, http_version="1.1", headers=headers)
            except UnexpectedStatus:
                raise  # it speaks HTTP/1.1 and answered: its answer says what is wrong
            except DeploymentError:
                raise first from None

    async def register(
        self,
        uri: str,
        *,
        additional_headers: dict[str, str] | None = None,
        use_http_11: bool = False,
        force: bool = False,
        dry_run: bool = False,
    ) -> Registration:
        """Discover and register the deployment at `uri`. BadRequest (a deployment that cannot
        be discovered or speaks no version of ours), Conflict (changes, unless `force`)."""
        headers = dict(additional_headers or {})
        problem = header_problem(headers)
        if problem is not None:
            raise BadRequest(f"Invalid field 'additional_headers': {problem}")
        try:
            discovery = await self._discover(uri, use_http_11, headers)
        except (DeploymentError, ManifestError) as exc:
            raise BadRequest(f"cannot discover the deployment at {uri}: {exc}") from exc
        manifest = discovery.manifest
        try:
            version = negotiate(
                manifest.min_protocol_version, manifest.max_protocol_version, speak=SUPPORTED_VERSIONS
            )
        except UnsupportedVersion as exc:
            raise BadRequest(
                f"the deployment at {uri} speaks protocol versions {manifest.min_protocol_version} to "
                f"{manifest.max_protocol_version}; awaken speaks "
                f"{', '.join(str(int(v)) for v in SUPPORTED_VERSIONS)}"
            ) from exc
        for sm in manifest.services:
            if sm.name in self.engine.local_services:
                raise Conflict(
                    f"service '{sm.name}' is served by this awaken itself: it cannot be registered"
                )
        raw = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
        await self.load()
        same_uri = next((r for r in self.records.values() if r.uri.rstrip("/") == uri.rstrip("/")), None)
        if same_uri is not None and _fingerprint(same_uri.manifest) == _fingerprint(raw) and not force:
            return Registration(same_uri, False)
        if not force:
            if same_uri is not None:
                raise Conflict(
                    f"a different deployment is registered at {uri} ({same_uri.id}): register it with "
                    "force to replace it"
                )
            for sm in manifest.services:
                existing = self.services.get(sm.name)
                if existing is not None and existing.service_kind != _SERVICE_KINDS[sm.ty]:
                    raise Conflict(
                        f"service '{sm.name}' is a {existing.service_kind} of deployment "
                        f"{existing.deployment_id}; this one makes it a {_SERVICE_KINDS[sm.ty]} "
                        "(register with force to change it)"
                    )
        record = DeploymentRecord(
            id=same_uri.id if same_uri is not None else new_deployment_id(),
            uri=uri,
            http_version=discovery.http_version,
            protocol_mode=(
                manifest.protocol_mode.value if manifest.protocol_mode is not None else "BIDI_STREAM"
            ),
            protocol_version=int(version),
            manifest=raw,
            additional_headers=headers,
            sdk_version=discovery.server,
            created_at_ms=same_uri.created_at_ms if same_uri is not None else self.engine.now_ms(),
        )
        if dry_run:
            return Registration(record, False)
        await self.engine.store.put_deployment(record)
        await self.load()
        log.info(
            "registered deployment %s at %s: %s", record.id, uri, ", ".join(s.name for s in manifest.services)
        )
        return Registration(record, same_uri is None)

    async def delete(self, deployment_id: str, force: bool) -> None:
        await self.engine.store.delete_deployment(deployment_id, force)
        await self.load()

    def protocol_version(self, record: DeploymentRecord) -> ProtocolVersion:
        return ProtocolVersion(record.protocol_version)

    def policy_for(self, spec: HandlerDescriptor, default: RetryPolicy) -> RetryPolicy:
        return default if spec.retry_policy is None else spec.retry_policy.to_policy(default)
