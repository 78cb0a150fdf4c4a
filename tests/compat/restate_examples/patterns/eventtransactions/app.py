from datetime import timedelta

import awaken as restate
from eventtransactions.utils import (
    SocialMediaPost,
    Status,
    create_post,
    get_post_status,
    update_user_feed,
)

user_feed = restate.VirtualObject("UserFeed")


@user_feed.handler("processPost")
async def process_post(ctx: restate.ObjectContext, post: SocialMediaPost):
    user_id = ctx.key()

    post_id = await ctx.run_typed("profile update", create_post, user_id=user_id, post=post)

    while await ctx.run_typed("post status", get_post_status, post_id=post_id) == Status.PENDING:
        await ctx.sleep(timedelta(seconds=5))

    await ctx.run_typed("update feed", lambda: update_user_feed(user_id, post_id))


app = restate.app(services=[user_feed])
