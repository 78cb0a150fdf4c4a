from datetime import timedelta

from pydantic import BaseModel

import awaken as restate
from statemachinepayments.accounts import deposit, withdraw

payment_processor = restate.VirtualObject("PaymentProcessor")

STATUS = "status"

PAYMENT = "payment"

EXPIRY_TIMEOUT = timedelta(days=1)


class Payment(BaseModel):
    account_id: str
    amount_cents: int


@payment_processor.handler("makePayment")
async def make_payment(ctx: restate.ObjectContext, payment: Payment) -> str:
    payment_id = ctx.key()
    status = await ctx.get(STATUS, type_hint=str) or "NEW"

    if status == "CANCELED":
        return "Payment already cancelled"
    if status == "COMPLETED_SUCCESSFULLY":
        return "Payment already completed in prior call"

    payment_result = await ctx.object_call(withdraw, key=payment.account_id, arg=payment.amount_cents)

    if payment_result.success:
        ctx.set(STATUS, "COMPLETED_SUCCESSFULLY")
        ctx.set(PAYMENT, payment)
        ctx.object_send(expire, payment_id, send_delay=EXPIRY_TIMEOUT, arg=None)

    return payment_result.message


@payment_processor.handler("cancelPayment")
async def cancel_payment(ctx: restate.ObjectContext):
    status = await ctx.get(STATUS, type_hint=str) or "NEW"

    if status == "NEW":
        ctx.set(STATUS, "CANCELED")
        ctx.object_send(expire, ctx.key(), send_delay=EXPIRY_TIMEOUT, arg=None)

    elif status == "CANCELED":
        pass

    elif status == "COMPLETED_SUCCESSFULLY":
        payment = await ctx.get(PAYMENT, type_hint=Payment)
        if not payment:
            raise restate.TerminalError("No payment info found for cancellation")
        ctx.set(STATUS, "CANCELED")

        ctx.object_send(deposit, key=payment.account_id, arg=payment.amount_cents)


@payment_processor.handler()
async def expire(ctx: restate.ObjectContext):
    ctx.clear_all()
