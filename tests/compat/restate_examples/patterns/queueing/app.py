from pydantic import BaseModel

import awaken as restate


class TaskOpts(BaseModel):
    id: str


async_task_worker = restate.Service("AsyncTaskWorker")


@async_task_worker.handler()
async def run(ctx: restate.Context, params: TaskOpts):
    return f"Finished work on task: {params.id}"


app = restate.app([async_task_worker])
