import typing

from pydantic import BaseModel

from awaken import Context, Service, wait_completed


class GreetingRequest(BaseModel):
    name: str


class Greeting(BaseModel):
    messages: typing.List[str]


class Message(BaseModel):
    role: str
    content: str


concurrent_greeter = Service("concurrent_greeter")


@concurrent_greeter.handler()
async def greet(ctx: Context, req: GreetingRequest) -> Greeting:
    claude = ctx.service_call(claude_sonnet, arg=Message(role="user", content=f"please greet {req.name}"))
    openai = ctx.service_call(open_ai, arg=Message(role="user", content=f"please greet {req.name}"))

    pending, done = await wait_completed(claude, openai)

    greetings = [await f for f in done]

    for f in pending:
        await f.cancel_invocation()  # type: ignore

    return Greeting(messages=greetings)


@concurrent_greeter.handler()
async def claude_sonnet(ctx: Context, req: Message) -> str:
    return f"Bonjour {req.content[13:]}!"


@concurrent_greeter.handler()
async def open_ai(ctx: Context, req: Message) -> str:
    return f"Hello {req.content[13:]}!"
