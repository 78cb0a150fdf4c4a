"""A deployment that misbehaves on purpose, for fault tests (an ASGI app: serve it like the SDKs).

Discovery, `GET {prefix}/discover`, by prefix (`ENDPOINT_BAD_KIND` makes `Bad` another kind):
  ""                     a valid manifest: service `Bad` with one handler per behaviour below
  /manifest-garbage      200 with a manifest content type and a body that is not JSON
  /manifest-invalid      200 with JSON that is not a valid manifest
  /manifest-wrong-type   200 with content-type application/json
  /manifest-500          500
  /manifest-hang         never answers
  /manifest-v99          a manifest whose protocol range is [99, 100]

Invocations, `POST /invoke/Bad/{behaviour}`:
  ok                  reads StartMessage + InputCommand, answers OutputCommand(input) + End
  status500           500 with a text body          status404   404
  garbage             200, right content type, bytes that are no message stream
  wrong_content_type  200, content-type application/json
  unknown_type        200, a frame of type 0x0BAD
  violation           200, well-formed frames that break the protocol (a StartMessage, then End)
  no_such_time        200, a SleepCommand until 2**64 - 1 ms (no store can hold it), then a
                      Suspension on it
  no_terminator       200, an OutputCommand and then the end of the body, without End
  error_message       200, ErrorMessage(code 500, next_retry_delay 1234 ms)
  truncated           200, a header that announces 100 bytes, 10 of them, end of body
  oversize            200, a header that announces 4 GiB
  hang_before_headers never answers               hang_after_headers  200, then nothing
  slow                200, OutputCommand + End one byte every 20 ms
  drop                200, a few bytes, then the server aborts the response
  switchable          behaves as the behaviour last set by `POST /control` (body: the name);
                      starts as status500, so a test can "fix" the deployment and retry
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from awaken.protocol.framing import HEADER, MessageDecoder, encode_messages
from awaken.protocol.messages import (
    EndMessage,
    ErrorMessage,
    InputCommand,
    OutputCommand,
    SleepCommand,
    StartMessage,
    SuspensionMessage,
    Value,
)

BEHAVIOURS = (
    "ok",
    "status500",
    "status404",
    "garbage",
    "wrong_content_type",
    "unknown_type",
    "violation",
    "no_such_time",
    "no_terminator",
    "error_message",
    "truncated",
    "oversize",
    "hang_before_headers",
    "hang_after_headers",
    "slow",
    "drop",
    "switchable",
)
_state = {"switchable": "status500"}

Scope = dict[str, Any]


def _manifest(mode: str, low: int = 5, high: int = 6) -> bytes:
    return json.dumps(
        {
            "protocolMode": mode,
            "minProtocolVersion": low,
            "maxProtocolVersion": high,
            "services": [
                {
                    "name": "Bad",
                    "ty": os.environ.get("ENDPOINT_BAD_KIND", "SERVICE"),  # a test changes it
                    "handlers": [
                        {
                            "name": b,
                            "input": {"contentType": "application/json"},
                            "output": {"contentType": "application/json"},
                        }
                        for b in BEHAVIOURS
                    ],
                }
            ],
        }
    ).encode()


async def _respond(send: Any, status: int, content_type: str, body: bytes, *, more: bool = False) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def _wait_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_input(receive: Any) -> bytes:
    """Read the request until the InputCommand (bidirectional requests never end by themselves)."""
    decoder = MessageDecoder()
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return b""
        for message in decoder.feed(event.get("body", b"")):
            if isinstance(message, InputCommand):
                return message.value.content if message.value else b""
        if not event.get("more_body", False):
            return b""


async def _discover(prefix: str, scope: Scope, receive: Any, send: Any) -> None:
    mode = "REQUEST_RESPONSE" if scope.get("http_version") == "1.1" else "BIDI_STREAM"
    manifest_type = "application/vnd.restate.endpointmanifest.v3+json"
    match prefix:
        case "":
            await _respond(send, 200, manifest_type, _manifest(mode))
        case "/manifest-garbage":
            await _respond(send, 200, manifest_type, b"not json{")
        case "/manifest-invalid":
            body = {
                "minProtocolVersion": 5,
                "maxProtocolVersion": 6,
                "services": [{"name": "9bad", "ty": "SERVICE"}],
            }
            await _respond(send, 200, manifest_type, json.dumps(body).encode())
        case "/manifest-wrong-type":
            await _respond(send, 200, "application/json", _manifest(mode))
        case "/manifest-500":
            await _respond(send, 500, "text/plain", b"discovery failed (on purpose)")
        case "/manifest-hang":
            await _wait_disconnect(receive)
        case "/manifest-v99":
            await _respond(send, 200, manifest_type, _manifest(mode, 99, 100))
        case _:
            await _respond(send, 404, "text/plain", b"no such discovery behaviour")


async def _invoke(behaviour: str, scope: Scope, receive: Any, send: Any) -> None:
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"application/vnd.restate.invocation.v5").decode()
    if behaviour == "switchable":
        behaviour = _state["switchable"]
    # Like an SDK, read the start of the journal first (except where not answering is the point).
    value = b"" if behaviour.startswith("hang") else await _read_input(receive)
    match behaviour:
        case "ok":
            await _respond(
                send, 200, content_type, encode_messages([OutputCommand(result=Value(value)), EndMessage()])
            )
        case "status500":
            await _respond(send, 500, "text/plain", b"internal error (on purpose)")
        case "status404":
            await _respond(send, 404, "text/plain", b"not here")
        case "garbage":
            await _respond(send, 200, content_type, b"\x13\x37 this is not a message stream \xff\xfe")
        case "wrong_content_type":
            await _respond(send, 200, "application/json", b'{"not": "the protocol"}')
        case "unknown_type":
            await _respond(send, 200, content_type, HEADER.pack(0x0BAD, 0, 0))
        case "violation":
            body = encode_messages(
                [StartMessage(id=b"x" * 24, debug_id="inv_1bogus", known_entries=1), EndMessage()]
            )
            await _respond(send, 200, content_type, body)
        case "no_such_time":
            sleep = SleepCommand(wake_up_time=2**64 - 1, result_completion_id=1)
            body = encode_messages([sleep, SuspensionMessage(waiting_completions=(1,))])
            await _respond(send, 200, content_type, body)
        case "no_terminator":
            await _respond(send, 200, content_type, encode_messages([OutputCommand(result=Value(b'"half"'))]))
        case "error_message":
            error = ErrorMessage(code=500, message="boom (on purpose)", next_retry_delay=1234)
            await _respond(send, 200, content_type, encode_messages([error]))
        case "truncated":
            await _respond(send, 200, content_type, HEADER.pack(0x0401, 0, 100) + b"0123456789")
        case "oversize":
            await _respond(send, 200, content_type, HEADER.pack(0x0401, 0, 0xFFFFFFFF))
        case "hang_before_headers":
            await _wait_disconnect(receive)
        case "hang_after_headers":
            await _respond(send, 200, content_type, b"", more=True)
            await _wait_disconnect(receive)
        case "slow":
            body = encode_messages([OutputCommand(result=Value(b'"slow"')), EndMessage()])
            await _respond(send, 200, content_type, b"", more=True)
            for i in range(len(body)):
                await asyncio.sleep(0.02)
                await send({"type": "http.response.body", "body": body[i : i + 1], "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        case "drop":
            await _respond(send, 200, content_type, HEADER.pack(0x0401, 0, 50) + b"abc", more=True)
            raise RuntimeError("dropping the response (on purpose)")
        case _:
            await _respond(send, 404, "text/plain", b"no such behaviour")


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    if path.endswith("/discover"):
        await _discover(path[: -len("/discover")], scope, receive, send)
    elif path.startswith("/invoke/Bad/"):
        await _invoke(path[len("/invoke/Bad/") :], scope, receive, send)
    elif path == "/control" and scope["method"] == "POST":
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body", False):
                break
        _state["switchable"] = body.decode().strip()
        await _respond(send, 200, "text/plain", b"ok")
    else:
        await _respond(send, 404, "text/plain", b"not found")
