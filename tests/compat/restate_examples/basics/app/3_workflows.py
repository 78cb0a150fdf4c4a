import uuid

from pydantic import BaseModel

import awaken as restate
from app.utils import create_user_entry, send_email_with_link
from awaken import Workflow, WorkflowContext, WorkflowSharedContext

user_signup = Workflow("usersignup")


class User(BaseModel):
    name: str
    email: str


@user_signup.main()
async def run(ctx: WorkflowContext, user: User) -> bool:
    user_id = ctx.key()

    await ctx.run_typed("create_user", create_user_entry, user=user)

    secret = str(ctx.uuid())
    await ctx.run_typed("send_email", send_email_with_link, user_id=user_id, email=user.email, secret=secret)

    click_secret = await ctx.promise("link_clicked").value()
    return click_secret == secret


@user_signup.handler()
async def click(ctx: WorkflowSharedContext, secret: str):
    await ctx.promise("link_clicked").resolve(secret)


app = restate.app(services=[user_signup])
