import uuid

from pydantic import BaseModel
from utils import create_recurring_payment, create_subscription

import awaken as restate
from awaken import Context, Service


class SubscriptionRequest(BaseModel):
    user_id: str
    credit_card: str
    subscriptions: list[str]


subscription_service = Service("SubscriptionService")


@subscription_service.handler()
async def add(ctx: Context, req: SubscriptionRequest):
    payment_id = str(ctx.uuid())

    pay_ref = await ctx.run_typed(
        "recurring payment", create_recurring_payment, credit_card=req.credit_card, payment_id=payment_id
    )

    for subscription in req.subscriptions:
        await ctx.run_typed(
            "subscription",
            create_subscription,
            user_id=req.user_id,
            subscription=subscription,
            payment_ref=pay_ref,
        )


app = restate.app([subscription_service])
