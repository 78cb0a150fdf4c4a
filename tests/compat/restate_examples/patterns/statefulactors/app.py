import awaken as restate
from statefulactors.utils import Status, bring_up_machine, tear_down_machine

machine_operator = restate.VirtualObject("machine-operator")


@machine_operator.handler("setUp")
async def set_up(ctx: restate.ObjectContext):
    machine_id = ctx.key()

    status = await ctx.get("status", type_hint=str)
    if status == Status.UP:
        return f"{machine_id} is already up, so nothing to do"

    await bring_up_machine(ctx, machine_id)
    ctx.set("status", Status.UP)

    return f"{machine_id} is now up"


@machine_operator.handler("tearDown")
async def tear_down(ctx: restate.ObjectContext):
    machine_id = ctx.key()

    status = await ctx.get("status", type_hint=str)
    if status != Status.UP:
        return f"{machine_id} is not up, cannot tear down"

    await tear_down_machine(ctx, machine_id)
    ctx.set("status", Status.DOWN)

    return f"{machine_id} is now down"


app = restate.app([machine_operator])
