"""Fixtures of the web UI's tests: a real `awaken serve ui_app:app` on free loopback ports, and
Debian's headless Chromium driven by playwright (never a browser playwright downloads).

Without a `chromium` on PATH the tests are skipped with the reason; with CI=true they fail, since
CI installs it (.ci/run) and a skipped UI suite proves nothing there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, eventually

UI_DIR = Path(__file__).resolve().parent

try:  # only the browser tests need it: the rest of the suite runs without playwright
    from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None  # type: ignore[assignment]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The UI tests start real servers and a browser: marked `e2e` and `ui` (`-m "not ui"`)."""
    for item in items:
        if UI_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.ui)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " (CI=true: the UI tests must run)")
    pytest.skip(reason)


# Module scope, not session: while playwright's sync API is open, the main thread has a running
# event loop, and the async tests of other folders (pytest-asyncio) cannot start their own.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if sync_playwright is None:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("no chromium on PATH (apt-get install chromium)")
    browser = playwright.chromium.launch(executable_path=executable)
    yield browser
    browser.close()


class UiServer(Server):
    """`awaken serve ui_app:app`, with the ingress calls the tests make to give the UI data."""

    def start_order(self, item: str) -> str:
        """shop/order: a step that fails once, a sleep, a call; then it waits on an awakeable."""
        invocation_id = self.send("/shop/order", item)
        eventually(lambda: self.awakeable_of(invocation_id), what=f"the awakeable of {item}'s order")
        return invocation_id

    def awakeable_of(self, invocation_id: str) -> str | None:
        return next((a for a, i in self.pending_awakeables().items() if i == invocation_id), None)

    def wait_for_status(self, invocation_id: str, *statuses: str) -> dict[str, Any]:
        return eventually(
            lambda: (inv := self.invocation(invocation_id))["status"] in statuses and inv,
            what=f"{invocation_id} to be {' or '.join(statuses)}",
        )


_RUNNING: list[UiServer] = []


@contextlib.contextmanager
def running(srv: UiServer) -> Iterator[UiServer]:
    """`srv` started, and stopped after; its log goes with the report of a test that fails."""
    srv.start()
    _RUNNING.append(srv)
    try:
        yield srv
    finally:
        _RUNNING.remove(srv)
        srv.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and UI_DIR in Path(str(item.path)).parents:
        for srv in _RUNNING:
            report.sections.append((f"awaken serve {srv.target} log", srv.log_text()))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    """One server for a module's tests (each test uses its own inputs and keys)."""
    with running(UiServer("ui_app:app", tmp_path_factory.mktemp("ui"), cwd=UI_DIR)) as srv:
        yield srv


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (its own sessionStorage) at 1280 px; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


__all__ = ["UiServer", "expect"]
