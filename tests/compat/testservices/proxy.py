from datetime import timedelta
from typing import Iterable, Optional, TypedDict

from awaken import Context, Service
from awaken.context import RestateDurableCallFuture, SendHandle

proxy = Service("Proxy")


class ProxyRequest(TypedDict):
    serviceName: str
    virtualObjectKey: Optional[str]
    handlerName: str
    message: Iterable[int]
    delayMillis: Optional[int]
    idempotencyKey: Optional[str]
    scope: Optional[str]
    limitKey: Optional[str]


def do_call(ctx: Context, req: ProxyRequest) -> RestateDurableCallFuture[bytes]:
    return ctx.generic_call(
        req["serviceName"],
        req["handlerName"],
        bytes(req["message"]),
        req.get("virtualObjectKey"),
        idempotency_key=req.get("idempotencyKey"),
        scope=req.get("scope"),
        limit_key=req.get("limitKey"),
    )


def do_send(ctx: Context, req: ProxyRequest) -> SendHandle:
    send_delay = None
    delay_millis = req.get("delayMillis")
    if delay_millis is not None:
        send_delay = timedelta(milliseconds=delay_millis)
    return ctx.generic_send(
        req["serviceName"],
        req["handlerName"],
        bytes(req["message"]),
        req.get("virtualObjectKey"),
        send_delay=send_delay,
        idempotency_key=req.get("idempotencyKey"),
        scope=req.get("scope"),
        limit_key=req.get("limitKey"),
    )


@proxy.handler()
async def call(ctx: Context, req: ProxyRequest) -> Iterable[int]:
    response = await do_call(ctx, req)
    return list(response)


@proxy.handler(name="oneWayCall")
async def one_way_call(ctx: Context, req: ProxyRequest) -> str:
    handle = do_send(ctx, req)
    invocation_id = await handle.invocation_id()
    return invocation_id


class ManyCallRequest(TypedDict):
    proxyRequest: ProxyRequest
    oneWayCall: bool
    awaitAtTheEnd: bool


@proxy.handler(name="manyCalls")
async def many_calls(ctx: Context, requests: Iterable[ManyCallRequest]):
    to_await = []

    for req in requests:
        if req["oneWayCall"]:
            do_send(ctx, req["proxyRequest"])
        else:
            awaitable = do_call(ctx, req["proxyRequest"])
            if req["awaitAtTheEnd"]:
                to_await.append(awaitable)

    for awaitable in to_await:
        await awaitable
