import msgspec

from awaken import Context, Service


class GreetingRequest(msgspec.Struct):
    name: str


class Greeting(msgspec.Struct):
    message: str


msgspec_greeter = Service("msgspec_greeter")


@msgspec_greeter.handler()
async def greet(ctx: Context, req: GreetingRequest) -> Greeting:
    return Greeting(message=f"Hello {req.name}!")
