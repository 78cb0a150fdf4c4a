import logging
import time
from random import randint

from pydantic import BaseModel

logging.basicConfig(
    level=logging.INFO,
    format="[%(asctime)s] [%(process)d] [%(levelname)s] - %(message)s",
)
logger = logging.getLogger(__name__)


class Task(BaseModel):
    description: str


class SubTask(BaseModel):
    description: str


class SubTaskList(BaseModel):
    subtasks: list[SubTask]


class SubTaskResult(BaseModel):
    description: str


class Result(BaseModel):
    description: str


async def split(task: Task) -> SubTaskList:
    subtask_descriptions = task.description.split(",")
    sub_tasks = SubTaskList(
        subtasks=[SubTask(description=description) for description in subtask_descriptions]
    )
    return sub_tasks


def execute_subtask(subtask: SubTask) -> SubTaskResult:
    logging.info(f"Started executing subtask: {subtask.description}")
    time.sleep(randint(0, 10))
    logging.info(f"Execution subtask finished: {subtask.description}")
    return SubTaskResult(description=f"{subtask}: DONE")


def aggregate(sub_results: list[SubTaskResult]) -> Result:
    descriptions = [sub_result.description for sub_result in sub_results]
    result_description = ",".join(descriptions)
    logging.info(f"Aggregated result: {result_description}")
    return Result(description=result_description)
