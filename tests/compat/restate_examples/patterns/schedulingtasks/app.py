from datetime import timedelta

import awaken as restate
from schedulingtasks.utils import StripeEvent, escalate_to_human, send_reminder_email

payment_tracker = restate.VirtualObject("PaymentTracker")


@payment_tracker.handler("onPaymentSuccess")
async def on_payment_success(ctx: restate.ObjectContext, _event: StripeEvent):
    ctx.set("paid", True)


@payment_tracker.handler("onPaymentFailure")
async def on_payment_failure(ctx: restate.ObjectContext, event: StripeEvent):
    if await ctx.get("paid", type_hint=bool):
        return

    reminder_count = await ctx.get("reminder_count", type_hint=int) or 0
    if reminder_count < 3:
        ctx.set("reminder_count", reminder_count + 1)
        await ctx.run_typed("send_reminder", send_reminder_email, event=event)

        ctx.object_send(
            on_payment_failure,
            ctx.key(),
            event,
            send_delay=timedelta(days=1),
        )
    else:
        await ctx.run_typed("escalate", escalate_to_human, event=event)


app = restate.app([payment_tracker])
