import awaken as restate
from parallelizework.utils import (
    Result,
    Task,
    aggregate,
    execute_subtask,
    split,
)

fan_out_worker = restate.Service("FanOutWorker")


@fan_out_worker.handler()
async def run(ctx: restate.Context, task: Task) -> Result:
    subtasks = await ctx.run_typed("split task", split, task=task)

    result_promises = [
        ctx.run_typed(f"execute {subtask}", execute_subtask, subtask=subtask) for subtask in subtasks.subtasks
    ]

    results_done = await restate.gather(*result_promises)
    results = [await result for result in results_done]

    return aggregate(results)


app = restate.app([fan_out_worker])
