"""Wire-level conversations with the real SDKs, in both modes: our codec against the real thing.

Request/response (HTTP/1.1 endpoints): each attempt sends the whole journal and reads to the end;
a suspension ends the attempt and the next one replays. Bidirectional (HTTP/2 endpoints):
completions are pushed into the open stream; closing our side asks the SDK to suspend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pytest

from awaken.protocol import (
    DeploymentClient,
    DeploymentTimeout,
    ProtocolMode,
    ProtocolVersion,
    awakeable_id,
    random_start_id,
)
from awaken.protocol.messages import (
    CANCEL_SIGNAL_INDEX,
    FIRST_AWAKEABLE_SIGNAL_INDEX,
    AwaitingOnMessage,
    CombinatorType,
    EndMessage,
    ErrorMessage,
    Failure,
    InputCommand,
    OutputCommand,
    ProposeRunCompletionAckMessage,
    ProposeRunCompletionMessage,
    ProtocolMessage,
    RunCommand,
    RunCompletionNotification,
    SignalNotification,
    StartMessage,
    SuspensionMessage,
    Value,
)
from tests.protocol.conftest import SDK_ENDPOINTS
from tests.protocol.rig import Endpoint

RR_ENDPOINTS = ("ts-h1", "py-uvicorn")
BIDI_ENDPOINTS = ("ts-h2", "py-hypercorn")


def start(start_id: bytes, known_entries: int, **fields: object) -> StartMessage:
    return StartMessage(
        id=start_id, debug_id="inv_1protocoltest", known_entries=known_entries, random_seed=42, **fields
    )  # type: ignore[arg-type]


def json_input(value: object) -> InputCommand:
    return InputCommand(value=Value(json.dumps(value).encode()))


def mode_of(ep: Endpoint) -> ProtocolMode:
    return ProtocolMode.BIDI_STREAM if ep.kind.bidi else ProtocolMode.REQUEST_RESPONSE


async def attempt(
    client: DeploymentClient,
    ep: Endpoint,
    handler: str,
    version: ProtocolVersion,
    messages: Sequence[ProtocolMessage],
) -> list[ProtocolMessage]:
    """One request/response attempt (our side closed at once, in either HTTP version)."""
    service, _, name = handler.partition("/")
    stream = await client.invoke(
        ep.url,
        service,
        name,
        version,
        messages,
        mode=ProtocolMode.REQUEST_RESPONSE,
        http_version=ep.http_version,
    )
    async with stream:
        return await stream.collect()


@pytest.mark.parametrize("version", list(ProtocolVersion))
@pytest.mark.parametrize("name", SDK_ENDPOINTS)
async def test_trivial_handler_outputs_and_ends(
    name: str, version: ProtocolVersion, endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    ep = endpoint(name)
    stream = await client.invoke(
        ep.url,
        "Greeter",
        "greet",
        version,
        [start(random_start_id(), 1), json_input("Ada")],
        mode=mode_of(ep),
        http_version=ep.http_version,
    )
    async with stream:
        assert stream.version is version
        assert stream.server is not None and stream.server.startswith("restate-sdk-")
        messages = await stream.collect()
    assert messages == [OutputCommand(result=Value(b'"Hello Ada!"')), EndMessage()]


@pytest.mark.parametrize("name", SDK_ENDPOINTS)
async def test_terminal_error_is_an_output_failure(
    name: str, endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    ep = endpoint(name)
    messages = await attempt(
        client, ep, "Flaky/terminal", ProtocolVersion.V6, [start(random_start_id(), 1), json_input(None)]
    )
    assert len(messages) == 2 and messages[1] == EndMessage()
    output = messages[0]
    assert isinstance(output, OutputCommand) and isinstance(output.result, Failure)
    assert (output.result.code, output.result.message) == (404, "no such order")


def _suspended_on(
    message: ProtocolMessage,
    version: ProtocolVersion,
    *,
    completions: set[int] = frozenset(),
    signals: set[int] = frozenset(),
) -> None:  # type: ignore[assignment]
    assert isinstance(message, SuspensionMessage), message
    if version >= ProtocolVersion.V7:
        assert (
            message.awaiting_on is not None
            and not message.waiting_completions
            and not message.waiting_signals
        )
    else:
        assert message.awaiting_on is None
    waited_completions, waited_signals, names = message.awaited()
    # The SDKs also always wait on the built-in cancel signal.
    assert (waited_completions, waited_signals, names) == (
        completions,
        {CANCEL_SIGNAL_INDEX, *signals},
        frozenset(),
    )


@pytest.mark.parametrize("version", [ProtocolVersion.V6, ProtocolVersion.V7])
@pytest.mark.parametrize("name", RR_ENDPOINTS)
async def test_seed_awakeable_story_in_request_response_mode(
    name: str, version: ProtocolVersion, endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    """Create an awakeable, hand its id out inside ctx.run, await it: three attempts, two replays."""
    ep = endpoint(name)
    start_id = random_start_id()
    journal: list[ProtocolMessage] = [json_input("Ada")]

    # Attempt 1: the run's result is proposed; the SDK cannot go on before it is stored: suspends.
    first = await attempt(client, ep, "Reviews/review", version, [start(start_id, len(journal)), *journal])
    run, proposal, suspension = first
    assert isinstance(run, RunCommand) and run.name == "request human review"
    assert isinstance(proposal, ProposeRunCompletionMessage)
    assert proposal.result_completion_id == run.result_completion_id
    assert isinstance(proposal.result, bytes)
    handed_out = json.loads(proposal.result)
    # The id the SDK made from our random StartMessage.id, with the first awakeable index.
    assert handed_out["awakeableId"] == awakeable_id(start_id, FIRST_AWAKEABLE_SIGNAL_INDEX)
    _suspended_on(suspension, version, completions={run.result_completion_id})

    # Attempt 2: replay with the stored run result; now it waits on the awakeable (a signal).
    journal += [
        run,
        RunCompletionNotification(completion_id=run.result_completion_id, result=Value(proposal.result)),
    ]
    second = await attempt(client, ep, "Reviews/review", version, [start(start_id, len(journal)), *journal])
    assert len(second) == 1
    _suspended_on(second[0], version, signals={FIRST_AWAKEABLE_SIGNAL_INDEX})

    # Attempt 3: the awakeable was resolved: the handler returns.
    journal.append(SignalNotification(signal_id=FIRST_AWAKEABLE_SIGNAL_INDEX, result=Value(b'"approved"')))
    third = await attempt(client, ep, "Reviews/review", version, [start(start_id, len(journal)), *journal])
    assert third == [OutputCommand(result=Value(b'"Ada: approved"')), EndMessage()]


@pytest.mark.parametrize("version", [ProtocolVersion.V6, ProtocolVersion.V7])
@pytest.mark.parametrize("name", BIDI_ENDPOINTS)
async def test_seed_awakeable_story_in_bidirectional_mode(
    name: str, version: ProtocolVersion, endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    """Completions pushed into the open stream; closing our side makes the SDK suspend; a replay with
    the signal completes it."""
    ep = endpoint(name)
    start_id = random_start_id()
    stream = await client.invoke(
        ep.url,
        "Reviews",
        "review",
        version,
        [start(start_id, 1), json_input("Ada")],
        mode=ProtocolMode.BIDI_STREAM,
    )
    async with stream:
        run = await stream.receive()
        proposal = await stream.receive()
        assert isinstance(run, RunCommand) and isinstance(proposal, ProposeRunCompletionMessage)
        assert isinstance(proposal.result, bytes)
        assert json.loads(proposal.result)["awakeableId"] == awakeable_id(
            start_id, FIRST_AWAKEABLE_SIGNAL_INDEX
        )
        completion = RunCompletionNotification(
            completion_id=run.result_completion_id, result=Value(proposal.result)
        )
        if proposal.requested_ack:
            # V7: the SDK asks for an ack; on replay the stored completion takes the ack's place.
            assert version >= ProtocolVersion.V7
            await stream.send(ProposeRunCompletionAckMessage(completion_id=run.result_completion_id))
        else:
            await stream.send(completion)
        # Nothing to do until the awakeable is completed: the SDK waits (V7 SDKs may say on what).
        hints: list[AwaitingOnMessage] = []
        try:
            while True:
                hint = await stream.receive(timeout=0.5)
                assert isinstance(hint, AwaitingOnMessage), hint
                hints.append(hint)
        except DeploymentTimeout:
            pass
        # Inactivity: close our side, as the runtime does to ask for a suspension.
        await stream.end_input()
        while isinstance(message := await stream.receive(), AwaitingOnMessage):
            hints.append(message)
        _suspended_on(message, version, signals={FIRST_AWAKEABLE_SIGNAL_INDEX})
        for hint in hints:  # each names the run's completion or the awakeable (or cancel)
            assert version >= ProtocolVersion.V7 and hint.awaiting_on is not None
            completions, signals, names = hint.awaiting_on.leaves()
            assert completions <= {run.result_completion_id} and not names
            assert signals <= {CANCEL_SIGNAL_INDEX, FIRST_AWAKEABLE_SIGNAL_INDEX}
        assert await stream.receive() is None

    # Resume by replay, the awakeable's completion at the end of the journal, in a new stream.
    journal = [
        json_input("Ada"),
        run,
        completion,
        SignalNotification(signal_id=FIRST_AWAKEABLE_SIGNAL_INDEX, result=Value(b'"approved"')),
    ]
    stream = await client.invoke(
        ep.url,
        "Reviews",
        "review",
        version,
        [start(start_id, len(journal)), *journal],
        mode=ProtocolMode.BIDI_STREAM,
    )
    async with stream:
        assert await stream.collect() == [OutputCommand(result=Value(b'"Ada: approved"')), EndMessage()]


@pytest.mark.parametrize("name", BIDI_ENDPOINTS)
async def test_completion_pushed_into_an_open_stream(
    name: str, endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    ep = endpoint(name)
    start_id = random_start_id()
    stream = await client.invoke(
        ep.url,
        "Reviews",
        "review",
        ProtocolVersion.V6,
        [start(start_id, 1), json_input("Bo")],
        mode=ProtocolMode.BIDI_STREAM,
    )
    async with stream:
        run = await stream.receive()
        proposal = await stream.receive()
        assert isinstance(run, RunCommand) and isinstance(proposal, ProposeRunCompletionMessage)
        assert isinstance(proposal.result, bytes)
        await stream.send(
            RunCompletionNotification(completion_id=run.result_completion_id, result=Value(proposal.result))
        )
        await stream.send(
            SignalNotification(signal_id=FIRST_AWAKEABLE_SIGNAL_INDEX, result=Value(b'"rejected"'))
        )
        assert await stream.collect() == [OutputCommand(result=Value(b'"Bo: rejected"')), EndMessage()]


def test_combinator_type_values_match_the_protocol() -> None:
    assert [int(c) for c in CombinatorType] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("name", RR_ENDPOINTS)
async def test_failures_drive_the_retry_policy(
    name: str, endpoint: Callable[[str], Endpoint], client: DeploymentClient
) -> None:
    """A thrown error is an ErrorMessage (retryable); a run failing with a retry delay names it."""
    ep = endpoint(name)
    failed = await attempt(
        client, ep, "Flaky/fail", ProtocolVersion.V6, [start(random_start_id(), 1), json_input(None)]
    )
    assert len(failed) == 1 and isinstance(failed[0], ErrorMessage)
    assert "flaky failure" in failed[0].message and failed[0].code == 500
    journal: list[ProtocolMessage] = [json_input(None)]
    run_failed = await attempt(
        client, ep, "Flaky/failRun", ProtocolVersion.V6, [start(random_start_id(), 1), *journal]
    )
    error = run_failed[-1]
    assert isinstance(error, ErrorMessage) and "not yet" in error.message
    assert error.next_retry_delay == 1500
    assert isinstance(run_failed[0], RunCommand) and error.related_command_index == 1
