from datetime import timedelta

import awaken as restate
from app.utils import charge_bank_account, subscription_service

my_service = restate.Service("myService")


@my_service.handler()
async def run(ctx: restate.Context):
    result = await ctx.object_call(subscription_service.create, "my-sub-123", "my-request")

    ctx.object_send(subscription_service.cancel, "my-sub-123", "my-request")

    awakeable_id, promise = ctx.awakeable()
    greeting_result = await promise
    ctx.resolve_awakeable(awakeable_id, "hello")

    await ctx.sleep(timedelta(seconds=5))
    ctx.object_send(
        subscription_service.cancel,
        "my-sub-123",
        "my-request",
        send_delay=timedelta(days=1),
    )

    payment_deduplication_id = str(ctx.uuid())

    result = await ctx.run_typed(
        "charge", charge_bank_account, payment_deduplication_id=payment_deduplication_id, amount=100
    )


app = restate.app([my_service, subscription_service])
