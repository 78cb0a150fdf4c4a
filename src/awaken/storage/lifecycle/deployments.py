"""Registered deployments (handlers served elsewhere): plain records, no lifecycle rules."""

from __future__ import annotations

import json

from awaken.errors import Conflict, NotFound
from awaken.storage.lifecycle.op import Op, Row
from awaken.storage.lifecycle.rows import dump_json, record_from_row
from awaken.storage.protocol import DeploymentRecord, InvocationRecord


def _deployment(row: Row) -> DeploymentRecord:
    return DeploymentRecord(
        id=str(row["id"]),
        uri=str(row["uri"]),
        http_version=str(row["http_version"]),
        protocol_mode=str(row["protocol_mode"]),
        protocol_version=int(row["protocol_version"]),
        manifest=json.loads(row["manifest"]),
        additional_headers=json.loads(row["additional_headers"]),
        sdk_version=row["sdk_version"],
        created_at_ms=int(row["created_at"]),
    )


async def put(op: Op, d: DeploymentRecord) -> None:
    params = {
        "id": d.id,
        "uri": d.uri,
        "http_version": d.http_version,
        "protocol_mode": d.protocol_mode,
        "protocol_version": d.protocol_version,
        "manifest": dump_json(d.manifest),
        "additional_headers": dump_json(d.additional_headers),
        "sdk_version": d.sdk_version,
        "now": d.created_at_ms,
    }
    await op.tx.run("put_deployment", params)


async def listed(op: Op) -> list[DeploymentRecord]:
    return [_deployment(r) for r in await op.tx.all("list_deployments")]


async def delete(op: Op, deployment_id: str, force: bool) -> None:
    pinned = int(await op.scalar("pinned_invocations", {"id": deployment_id}) or 0)
    if pinned and not force:
        raise Conflict(
            f"deployment {deployment_id} serves {pinned} invocations that have not completed: "
            "delete it with force (they will fail), or wait"
        )
    if await op.tx.run("delete_deployment", {"id": deployment_id}) == 0:
        raise NotFound(f"deployment '{deployment_id}' not found")


async def invocation_by_protocol_id(op: Op, protocol_id: bytes) -> InvocationRecord | None:
    row = await op.tx.one("get_invocation_by_protocol_id", {"protocol_id": protocol_id})
    return None if row is None else record_from_row(row)
