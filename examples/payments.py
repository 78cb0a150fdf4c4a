"""A payment that waits for a human approval, handed out as an awakeable.

    awaken serve examples.payments:app            # or: cd examples && awaken serve payments:app
    curl -X POST localhost:8080/payments/charge -H 'content-type: application/json' \
         -d '{"order_id": "o-1", "amount_cents": 4200}'
    # the approval task (with its awakeable id) is printed and appended to approvals.jsonl;
    # the reviewer answers it:
    curl -X POST localhost:8080/restate/awakeables/<id>/resolve -H 'content-type: application/json' \
         -d '{"approved": true, "reviewer": "ada"}'
    # or declines it, which fails the payment with the reason:
    curl -X POST localhost:8080/restate/awakeables/<id>/reject -d 'card looks stolen'

Meanwhile the `accounts` virtual object shows the key lock: a withdrawal waiting for approval
keeps its account locked; deposits to that account queue behind it, other accounts go on.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from pydantic import BaseModel

import awaken as restate

OUTBOX = os.environ.get("PAYMENTS_OUTBOX", "approvals.jsonl")


class Charge(BaseModel):
    order_id: str
    amount_cents: int


class Verdict(BaseModel):
    approved: bool
    reviewer: str


def send_for_approval(kind: str, subject: str, amount_cents: int, awakeable_id: str) -> None:
    """The 'other system': here, a line in a file and a curl command on the console."""
    task = {"kind": kind, "subject": subject, "amount_cents": amount_cents, "awakeable_id": awakeable_id}
    with open(OUTBOX, "a", encoding="utf-8") as out:
        out.write(json.dumps(task) + "\n")
    print(
        f"approval needed for {kind} {subject}: curl -X POST "
        f"localhost:8080/restate/awakeables/{awakeable_id}/resolve "
        '-H \'content-type: application/json\' -d \'{"approved": true, "reviewer": "you"}\'',
        flush=True,
    )


payments = restate.Service("payments")


@payments.handler()
async def charge(ctx: restate.Context, charge: Charge) -> dict[str, object]:
    approval_id, verdict = ctx.awakeable(type_hint=Verdict, timeout=timedelta(days=1))
    # Inside ctx.run: a retry of this handler does not ask for approval twice.
    await ctx.run_typed(
        "ask for approval",
        send_for_approval,
        restate.RunOptions(),
        "charge",
        charge.order_id,
        charge.amount_cents,
        approval_id,
    )
    decision = await verdict
    if not decision.approved:
        raise restate.TerminalError(f"payment declined by {decision.reviewer}", 402)
    receipt = await ctx.run_typed("charge card", lambda: f"rcpt-{charge.order_id}")
    return {"order_id": charge.order_id, "receipt": receipt, "approved_by": decision.reviewer}


accounts = restate.VirtualObject("accounts")


@accounts.handler()
async def deposit(ctx: restate.ObjectContext, amount_cents: int) -> int:
    balance = (await ctx.get("balance", type_hint=int) or 0) + amount_cents
    ctx.set("balance", balance)
    return balance


@accounts.handler()
async def withdraw(ctx: restate.ObjectContext, amount_cents: int) -> int:
    approval_id, verdict = ctx.awakeable(type_hint=Verdict)
    await ctx.run_typed(
        "ask for approval",
        send_for_approval,
        restate.RunOptions(),
        "withdrawal",
        ctx.key(),
        amount_cents,
        approval_id,
    )
    decision = await verdict  # the account stays locked while we wait
    if not decision.approved:
        raise restate.TerminalError(f"withdrawal declined by {decision.reviewer}", 402)
    balance = (await ctx.get("balance", type_hint=int) or 0) - amount_cents
    ctx.set("balance", balance)
    return balance


@accounts.handler(kind="shared")
async def balance(ctx: restate.ObjectSharedContext) -> int:
    return await ctx.get("balance", type_hint=int) or 0


app = restate.app(services=[payments, accounts])
