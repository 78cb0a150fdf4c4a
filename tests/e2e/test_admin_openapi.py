"""The admin API answers as its OpenAPI document says: a bounded schemathesis run (every check,
a fixed seed, a few dozen cases per operation) against a real `awaken serve`.

POST /deployments is left out: its requests make the server discover whatever URL the run
generates (tests/protocol covers it against real deployments)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import Effects, Server

pytestmark = pytest.mark.e2e

SCHEMATHESIS = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which(
    "schemathesis"
)


@pytest.mark.skipif(SCHEMATHESIS is None, reason="schemathesis is not installed (the test extra has it)")
def test_the_admin_api_conforms_to_its_openapi_document(
    make_server: Callable[..., Server], effects: Effects, tmp_path: Path
) -> None:
    server = make_server("crash_app:app", env={"E2E_EFFECTS_DIR": str(effects.directory)}).start()
    for i in range(3):  # some invocations to list and act on
        server.send("/flow/work", f"t{i}")
    assert SCHEMATHESIS is not None
    command = [
        SCHEMATHESIS, "run", f"{server.admin_url}/openapi.json",
        "--checks", "all",
        "--max-examples", "25",
        "--seed", "20261207",
        "--generation-database", "none",
        "--request-timeout", "10",
        # it would make the server connect to whatever URLs the run makes up
        "--exclude-name", "POST /deployments",
        # any string fits the schema, few are SQL: a 400 there is right (tests/integration's
        # test_admin_query.py covers its bad input)
        "--exclude-name", "POST /query",
        "--no-color",
    ]  # fmt: skip
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert " passed" in run.stdout, run.stdout[-2000:]


def test_a_405_names_the_allowed_methods(make_server: Callable[..., Server], effects: Effects) -> None:
    server = make_server("crash_app:app", env={"E2E_EFFECTS_DIR": str(effects.directory)}).start()
    for url, method, allow in [
        (f"{server.admin_url}/invocations/counts", "DELETE", "GET"),
        (f"{server.admin_url}/services/flow/state", "GET", "POST"),
        (f"{server.admin_url}/invocations/inv_1000MkEeljQBFnH4qzuVCaJtT67X0B023m/cancel", "GET", "PATCH"),
        (f"{server.admin_url}/invocations/inv_1000MkEeljQBFnH4qzuVCaJtT67X0B023m", "PUT", "GET, DELETE"),
        (f"{server.url}/restate/health", "POST", "GET"),
    ]:
        r = server.client.request(method, url)
        assert r.status_code == 405, (url, r.text)
        assert r.headers["allow"] == allow, url
    r = server.client.get(f"{server.admin_url}/invocations?status=")
    assert r.status_code == 400 and "status" in r.json()["message"]
    r = server.client.get(f"{server.admin_url}/invocations/inv_1")
    assert r.status_code == 400
