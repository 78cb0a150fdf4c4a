"""With --admin-token the UI's files load without it and the UI asks for it: kept for the tab in
sessionStorage, sent as a bearer token, asked again when refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import UI_DIR, UiServer, running

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    srv = UiServer(
        "ui_app:app",
        tmp_path_factory.mktemp("ui-token"),
        cwd=UI_DIR,
        extra_args=["--admin-token", TOKEN],
        admin_token=TOKEN,
    )
    with running(srv):
        yield srv


def test_the_ui_asks_for_the_token_and_keeps_it_for_the_tab(page: Page, guarded: UiServer) -> None:
    inv = guarded.send("/shop/echo", "guarded")
    requests: list[dict[str, str]] = []
    page.on("request", lambda r: requests.append({"url": r.url, **r.headers}))
    page.goto(f"{guarded.admin_url}/ui/")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator(f'tr[data-id="{inv}"]')).to_have_count(0)

    dialog.get_by_label("Token").fill("wrong")
    dialog.get_by_role("button", name="Use token").click()
    expect(dialog).to_be_visible()
    expect(page.locator("#token-reason")).to_contain_text("refused")

    dialog.get_by_label("Token").fill(TOKEN)
    dialog.get_by_role("button", name="Use token").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f'tr[data-id="{inv}"]')).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('awaken.adminToken')") == TOKEN
    data = [r for r in requests if "/invocations" in r["url"] and "/ui/" not in r["url"]]
    assert data and data[-1].get("authorization") == f"Bearer {TOKEN}"
    static = [r for r in requests if r["url"].endswith("/ui/app.js")]
    assert static and "authorization" not in static[0]

    page.reload()  # the tab keeps it: no prompt again
    expect(page.locator(f'tr[data-id="{inv}"]')).to_be_visible()
    expect(dialog).to_be_hidden()


def test_declining_the_prompt_shows_the_401_until_a_token_is_given(page: Page, guarded: UiServer) -> None:
    order = guarded.start_order("guarded")
    awakeable = guarded.awakeable_of(order)
    page.goto(f"{guarded.admin_url}/ui/#/awakeables")
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert").first).to_contain_text("401 missing or wrong admin token")
    expect(dialog).to_be_hidden()

    page.get_by_role("button", name="Admin token").click()
    dialog.get_by_label("Token").fill(TOKEN)
    dialog.get_by_role("button", name="Use token").click()
    expect(page.locator(f'tr[data-id="{awakeable}"]')).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
