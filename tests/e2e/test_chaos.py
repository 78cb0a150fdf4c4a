"""Chaos, bounded: mixed invocations (multi-step chains, virtual-object counters, awakeables
resolved concurrently, durable sleeps, calls with delayed sends, delayed sends from the ingress)
while the real `awaken serve` is killed with SIGKILL at random moments, 20 times, then counted:
nothing acknowledged is lost, nothing runs twice past its record, no recorded result changes.

Every send carries an idempotency key, so a client that lost its answer to a kill sends again
and gets the same invocation. Runs in both modes (the defaults and always-replay)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Effects, Server, eventually
from tests.e2e.crash_app import CHAIN_STEPS

pytestmark = pytest.mark.e2e

KILLS = 20
PER_KIND = 12
KINDS = ("chain", "counter", "approve", "nap", "relay", "delayed")
COUNTER_KEYS = ("c0", "c1", "c2")
SEND_EVERY_S = 0.2  # the sends are spread over most of the kills


def request_for(kind: str, i: int, tag: str) -> tuple[str, Any]:
    """(path, JSON body) of the send of invocation `tag`."""
    match kind:
        case "chain":
            return "/flow/chain/send", tag
        case "counter":
            return f"/lock/{COUNTER_KEYS[i % len(COUNTER_KEYS)]}/append/send", tag
        case "approve":
            return "/flow/approve/send", tag
        case "nap":
            return "/flow/nap/send", {"tag": tag, "seconds": 0.3}
        case "relay":
            return "/flow/relay/send", tag
        case _:
            return "/flow/work/send?delay=300ms", tag


class Chaos:
    """The clients of the test: a sender of the planned invocations and a resolver of their
    awakeables, both retrying through the kills (the server's address changes at each start)."""

    def __init__(self, server: Server, effects: Effects) -> None:
        self.server = server
        self.effects = effects
        self.plan = [(kind, i, f"{kind}{i}") for i in range(PER_KIND) for kind in KINDS]
        random.Random(7).shuffle(self.plan)
        self.ids: dict[str, str] = {}  # tag -> invocation id (acknowledged with 202)
        self.resolved: set[str] = set()
        self.stop = threading.Event()
        self.errors: list[str] = []

    def send_all(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            for kind, i, tag in self.plan:
                path, body = request_for(kind, i, tag)
                while not self.stop.is_set():
                    try:
                        r = client.post(
                            f"{self.server.url}{path}", json=body, headers={"idempotency-key": tag}
                        )
                    except httpx.TransportError:
                        time.sleep(0.05)  # the server is down: a client's back-off
                        continue
                    if r.status_code == 202:
                        invocation_id = r.json()["invocationId"]
                        if self.ids.setdefault(tag, invocation_id) != invocation_id:
                            self.errors.append(f"{tag}: two ids for one idempotency key")
                        break
                    if r.status_code != 503:
                        self.errors.append(f"{tag}: {r.status_code} {r.text}")
                        break
                time.sleep(SEND_EVERY_S)

    def resolve_all(self) -> None:
        tags = [tag for kind, _, tag in self.plan if kind == "approve"]
        with httpx.Client(timeout=5.0) as client:
            while not self.stop.is_set() and len(self.resolved) < len(tags):
                for tag in tags:
                    handed = self.effects.values("hand_out", tag)
                    if tag in self.resolved or not handed:
                        continue
                    url = f"{self.server.url}/restate/awakeables/{handed[-1]}/resolve"
                    try:
                        r = client.post(url, json={"for": tag})
                    except httpx.TransportError:
                        continue
                    if r.status_code == 202:
                        self.resolved.add(tag)
                    elif r.status_code not in (404, 503):
                        self.errors.append(f"resolve {tag}: {r.status_code} {r.text}")
                time.sleep(0.05)


def test_random_kills_under_mixed_load_lose_duplicate_and_change_nothing(
    make_server: Callable[..., Server], effects: Effects, mode: str
) -> None:
    server = make_server("crash_app:app", mode=mode, env={"E2E_EFFECTS_DIR": str(effects.directory)}).start()
    chaos = Chaos(server, effects)
    clients = [threading.Thread(target=chaos.send_all), threading.Thread(target=chaos.resolve_all)]
    for thread in clients:
        thread.start()
    rng = random.Random(20261207)
    kills_while_sending = 0
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 1.0))  # a random moment: not a synchronization
            kills_while_sending += clients[0].is_alive()
            server.restart()  # SIGKILL, then start again on the same database
        clients[0].join(timeout=120)
        assert not clients[0].is_alive(), "the sender did not get every invocation accepted"
        clients[1].join(timeout=60)
        assert not clients[1].is_alive(), "the resolver did not resolve every awakeable"
    finally:
        chaos.stop.set()
        for thread in clients:
            thread.join(timeout=10)
    assert not chaos.errors, chaos.errors[:5]
    assert len(chaos.ids) == len(chaos.plan)
    assert kills_while_sending >= KILLS // 2  # the kills fell among the invocations, not after

    results: dict[str, Any] = {}
    for _, _, tag in chaos.plan:
        response = server.attach(chaos.ids[tag], timeout=30.0)
        assert response.status_code == 200, (tag, response.text)
        results[tag] = response.json()
    check(server, effects, chaos, results)
    reruns = sum(
        n - 1
        for name in ("step_a", "step_b", "work", *(f"chain{i}" for i in range(CHAIN_STEPS)))
        for n in effects.counts(name).values()
    )
    print(
        f"{mode}: {KILLS} kills, {kills_while_sending} while sending, {len(results)} invocations, "
        f"{reruns} steps cut short and run again"
    )


def last(effects: Effects, effect: str, tag: str) -> str:
    """The value of the last execution of a step: the one whose result was recorded (an earlier
    one can only have been cut short by a kill before its result was stored)."""
    values = effects.values(effect, tag)
    assert values, f"{effect} never ran for {tag}"
    return values[-1]


def check(server: Server, effects: Effects, chaos: Chaos, results: dict[str, Any]) -> None:
    counters: dict[str, list[str]] = {key: [] for key in COUNTER_KEYS}
    relays: list[str] = []
    for kind, i, tag in chaos.plan:
        got = results[tag]
        match kind:
            case "chain":
                assert got == [last(effects, f"chain{step}", tag) for step in range(CHAIN_STEPS)], tag
            case "counter":
                key = COUNTER_KEYS[i % len(COUNTER_KEYS)]
                counters[key].append(tag)
                assert tag in got, (tag, got)
            case "approve":
                assert got == {
                    "tag": tag,
                    "a": last(effects, "step_a", tag),
                    "got": {"for": tag},
                    "b": last(effects, "step_b", tag),
                }, tag
            case "nap":
                assert got["tag"] == tag
                # the durable timer held across kills: never woken early
                assert got["after"] - got["before"] >= 0.3 - 0.01, got
            case "relay":
                relays.append(tag)
                assert got == {"before": last(effects, "relay_before", tag), "appended": True}, tag
            case _:
                assert got == last(effects, "work", tag), tag
    # Each append ran its effect at least once and landed in its key's state exactly once.
    for key, tags in counters.items():
        log = server.post(f"/lock/{key}/read").json()
        assert Counter(log) == Counter(tags), (key, log)
    assert Counter(server.post("/lock/relay/read").json()) == Counter(relays)
    eventually(
        lambda: Counter(server.post("/lock/delayed/read").json()) == Counter(relays),
        what="every delayed send delivered once",
    )
