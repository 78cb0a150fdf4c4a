from datetime import datetime

from awaken import Context, Service

random_greeter = Service("random_greeter")


@random_greeter.handler()
async def greet(ctx: Context, name: str) -> str:
    random_number = ctx.random().randint(0, 100)
    random_bytes = ctx.random().randbytes(10)
    random_uuid = ctx.uuid()
    now = await ctx.time()
    now_datetime = datetime.fromtimestamp(now)
    return (
        f"Hello {name} with "
        f"random number {random_number}, "
        f"random bytes {random_bytes!r} "
        f"random uuid {random_uuid},"
        f"now datetime {now_datetime}!"
    )
