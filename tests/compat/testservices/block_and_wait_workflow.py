from awaken import Workflow, WorkflowContext, WorkflowSharedContext
from awaken.exceptions import TerminalError

workflow = Workflow("BlockAndWaitWorkflow")


@workflow.main()
async def run(ctx: WorkflowContext, input: str):
    ctx.set("my-state", input)
    output = await ctx.promise("durable-promise").value()

    peek = await ctx.promise("durable-promise").peek()
    if peek is None:
        raise TerminalError(message="Durable promise should be completed")

    return output


@workflow.handler()
async def unblock(ctx: WorkflowSharedContext, output: str):
    await ctx.promise("durable-promise").resolve(output)


@workflow.handler(name="getState")
async def get_state(ctx: WorkflowSharedContext, output: str) -> str | None:
    return await ctx.get("my-state")
