import awaken as restate
from virtual_object import count, increment

# the ingress URL of restate-sdk's example ("http://localhost:8080"), set by the test to its server
INGRESS = "http://localhost:8080"


async def main():
    async with restate.create_client(INGRESS) as client:
        await client.object_call(increment, key="a", arg=5)

        await client.object_send(increment, key="a", arg=5)

        current_count = await client.object_call(count, key="a", arg=None)

        print(f"Current count for 'a': {current_count}")
