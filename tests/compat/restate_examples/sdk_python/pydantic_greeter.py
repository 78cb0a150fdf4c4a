from pydantic import BaseModel

from awaken import Context, Service


class GreetingRequest(BaseModel):
    name: str


class Greeting(BaseModel):
    message: str


pydantic_greeter = Service("pydantic_greeter")


@pydantic_greeter.handler()
async def greet(ctx: Context, req: GreetingRequest) -> Greeting:
    return Greeting(message=f"Hello {req.name}!")
