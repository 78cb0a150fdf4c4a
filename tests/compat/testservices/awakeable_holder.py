from awaken import ObjectContext, VirtualObject
from awaken.exceptions import TerminalError

awakeable_holder = VirtualObject("AwakeableHolder")


@awakeable_holder.handler()
async def hold(ctx: ObjectContext, id: str):
    ctx.set("id", id)


@awakeable_holder.handler(name="hasAwakeable")
async def has_awakeable(ctx: ObjectContext) -> bool:
    res = await ctx.get("id")
    return res is not None


@awakeable_holder.handler()
async def unlock(ctx: ObjectContext, payload: str):
    id = await ctx.get("id")
    if id is None:
        raise TerminalError(message="No awakeable is registered")
    ctx.resolve_awakeable(id, payload)
