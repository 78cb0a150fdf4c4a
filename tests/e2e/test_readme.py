"""The README's story, run as written: its Python block is saved as story.py and served with the
README's `awaken serve story:app`, and its curl commands are run by curl (on the test's ports
instead of 8080/9070), with the awakeable id taken from the server's console where the README says
it appears. What the README says each answer is, is what the test checks."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT, Server, eventually

pytestmark = pytest.mark.e2e

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README) if lang == language]


def commands() -> list[str]:
    """The commands of the README's bash blocks, continuation lines joined."""
    out = []
    for block in blocks("bash"):
        for command in re.sub(r"\\\n\s*", "", block).splitlines():
            if command.strip() and not command.strip().startswith("#"):
                out.append(command.strip())
    return out


def command_with(fragment: str) -> str:
    (found,) = [c for c in commands() if fragment in c]
    return found


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:  # .ci/run installs it; a machine without it fails here, loudly
        pytest.fail("curl is needed to run the README's commands (apt-get install curl)")
    return path


def test_the_readme_keeps_its_two_set_up_commands() -> None:
    first, second = commands()[:2]
    venv = "python3 -m venv .venv && . .venv/bin/activate"
    assert first == f"{venv} && pip install -e . && awaken serve examples.payments:app"
    assert second == f"{venv} && pip install -e '.[test]' && pytest"
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[test]'" in ci and "\npytest\n" in ci  # what CI runs is the second


def test_the_story_runs_as_written(make_server: Callable[..., Server], tmp_path: Path, curl: str) -> None:
    (app,) = blocks("python")
    (tmp_path / "story.py").write_text(app, encoding="utf-8")
    assert "`awaken serve story:app`" in README
    server = make_server("story:app", cwd=tmp_path).start()
    here = f"127.0.0.1:{server.port}"

    def run(command: str, **subs: str) -> subprocess.Popen[str]:
        command = command.replace("localhost:8080", here)
        for old, new in subs.items():
            command = command.replace(old, new)
        assert command.startswith("curl ")
        return subprocess.Popen(
            ["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def answer(process: subprocess.Popen[str]) -> str:
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        return out

    seen: set[str] = set()

    def next_awakeable() -> str:
        """The id the README says appears in the server's console, for the next approval."""

        def fresh() -> str | None:
            found = re.findall(
                r"approval needed for o-1: awakeable (sign_1[A-Za-z0-9_-]+)", server.log_text()
            )
            new = [f for f in found if f not in seen]
            return new[0] if new else None

        awakeable_id = eventually(fresh, what="the awakeable id in the server's console")
        seen.add(awakeable_id)
        return awakeable_id

    call, resolve, reject = (command_with(f) for f in ("/payments/charge", "/resolve", "/reject"))

    # approve: the resolve is accepted, the waiting call answers the receipt
    waiting = run(call)
    approval = next_awakeable()
    listed = subprocess.run(
        [sys.executable, "-m", "awaken", "awakeables", "ls"],
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "AWAKEN_ADMIN_URL": server.admin_url},
    )  # fmt: skip
    assert (
        listed.returncode == 0 and approval in listed.stdout and "Verdict {approved: boolean" in listed.stdout
    )
    assert json.loads(answer(run(resolve, **{"<id>": approval}))) == {"status": "Accepted"}
    assert json.loads(answer(waiting)) == "receipt for o-1"

    # a verdict that does not fit: 400, nothing recorded; "approved": false: the call answers 402
    waiting = run(call)
    approval = next_awakeable()
    misfit = run(resolve, **{"<id>": approval, '"approved": true': '"approved": "maybe"'})
    assert json.loads(answer(misfit))["code"] == 400
    declined = run(resolve, **{"<id>": approval, '"approved": true': '"approved": false'})
    assert json.loads(answer(declined)) == {"status": "Accepted"}
    assert json.loads(answer(waiting)) == {"code": 402, "message": "declined by ada", "source": "invocation"}

    # a reject: the handler's await raises TerminalError(reason, 500), the call answers 500
    waiting = run(call.replace("curl ", "curl -w '\\n%{http_code}' ", 1))
    approval = next_awakeable()
    answer(run(reject, **{"<id>": approval}))
    body, status = answer(waiting).rsplit("\n", 1)
    assert status == "500"
    assert json.loads(body) == {"code": 500, "message": "card looks stolen", "source": "invocation"}

    # the README says Ctrl-C stops it within 5 s
    started = time.monotonic()
    assert server.proc is not None
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=10) == 0 and time.monotonic() - started < 5
