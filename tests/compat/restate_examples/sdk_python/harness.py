import awaken as restate
from virtual_object import count, counter, increment


async def main():
    app = restate.app([counter])
    async with restate.create_test_harness(app) as harness:
        await harness.client.object_call(increment, key="a", arg=5)
        await harness.client.object_call(increment, key="a", arg=5)

        current_count = await harness.client.object_call(count, key="a", arg=None)

        print(f"Current count for 'a': {current_count}")

        send = await harness.client.object_send(increment, key="b", arg=-10, idempotency_key="op1")

        print(f"Sent increment to 'b', invocation ID: {send.invocation_id}")
