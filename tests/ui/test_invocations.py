"""The invocation list in a real browser: newest first, filtered on the server, counted per status,
paged, refreshed without a reload, and usable on a narrow screen."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import UiServer


def _rows(page: Page) -> list[str]:
    return page.locator("table[aria-label=Invocations] tbody tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def test_lists_newest_first_and_filters_by_service_handler_key_and_status(
    page: Page, server: UiServer
) -> None:
    echoes = [server.send("/shop/echo", f"list-{i}") for i in range(3)]
    carts = [server.send("/cart/list-a/add", "pen"), server.send("/cart/list-b/add", "ink")]
    for inv in echoes + carts:
        server.wait_for_status(inv, "completed")
    newest_first = [row["id"] for row in server.admin("/invocations?limit=50")["invocations"]]

    page.goto(f"{server.admin_url}/ui/")
    rows = page.locator("table[aria-label=Invocations] tbody tr[data-id]")
    expect(rows.first).to_have_attribute("data-id", newest_first[0])
    assert _rows(page) == newest_first

    page.get_by_label("Service", exact=True).select_option("shop")
    page.get_by_label("Handler", exact=True).select_option("echo")
    expect(rows).to_have_count(3)
    assert _rows(page) == echoes[::-1]
    expect(page).to_have_url(re.compile(r"#/invocations\?.*service=shop.*handler=echo"))

    page.get_by_label("Service", exact=True).select_option("cart")
    # the counts per status follow the other filters
    carts_done = server.admin("/invocations/counts?service=cart")["completed"]
    assert carts_done >= 2 and carts_done != len(newest_first)
    expect(page.locator("button.count[data-status=completed] strong")).to_have_text(str(carts_done))
    page.get_by_label("Key", exact=True).fill("list-b")
    expect(page.locator("button.count[data-status=completed] strong")).to_have_text("1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", carts[1])
    expect(rows.first).to_contain_text("cart/list-b/add")

    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(len(newest_first))


def test_counts_per_status_filter_and_follow_live_changes(page: Page, server: UiServer) -> None:
    page.goto(f"{server.admin_url}/ui/#/invocations?service=shop")
    suspended = page.locator("button.count[data-status=suspended] strong")
    expect(page.locator("#refreshed")).to_contain_text("updated")
    before = int(suspended.inner_text())

    waiting = server.start_order("live-count")  # no reload: the page polls
    expect(suspended).to_have_text(str(before + 1))
    rows = page.locator("table[aria-label=Invocations] tbody tr[data-id]")
    expect(page.locator(f'tr[data-id="{waiting}"]')).to_contain_text("suspended")

    page.locator("button.count[data-status=suspended]").click()
    expect(page.get_by_label("Status", exact=True)).to_have_value("suspended")
    expect(rows).to_have_count(before + 1)
    for status in rows.locator("td .badge").all_inner_texts():
        assert status == "suspended"

    awakeable = server.awakeable_of(waiting)
    assert awakeable is not None
    resolved = server.resolve(awakeable, {"approved": True, "reviewer": "live"})
    assert resolved.status_code == 202, resolved.text
    expect(page.locator(f'tr[data-id="{waiting}"]')).to_have_count(0)  # it left the filter by itself
    expect(suspended).to_have_text(str(before))


def test_pages_through_many_invocations_with_the_cursor(page: Page, server: UiServer) -> None:
    made = [server.send("/shop/echo", f"page-{i}") for i in range(60)]
    page.goto(f"{server.admin_url}/ui/#/invocations?service=shop&handler=echo&limit=25")
    rows = page.locator("table[aria-label=Invocations] tbody tr[data-id]")
    expect(rows).to_have_count(25)
    first_page = _rows(page)
    older = page.get_by_role("button", name="Older →")
    seen = list(first_page)
    while older.is_enabled():
        older.click()
        expect(page.get_by_text(f"page {len(seen) // 25 + 1},")).to_be_visible()
        seen += _rows(page)
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    everything = server.admin("/invocations?service=shop&handler=echo&limit=1000")["invocations"]
    assert seen == [row["id"] for row in everything]
    page.get_by_role("button", name="← Newer").click()
    page.get_by_role("button", name="← Newer").click()
    expect(page.get_by_text("page 1,")).to_be_visible()
    assert _rows(page) == first_page


def test_an_age_filter_and_a_bad_request_show_plainly(page: Page, server: UiServer) -> None:
    fresh = server.send("/shop/echo", "age")
    page.goto(f"{server.admin_url}/ui/#/invocations?age=5m&service=shop&handler=echo")
    expect(page.locator(f'tr[data-id="{fresh}"]')).to_be_visible()
    expect(page.get_by_label("Age", exact=True)).to_have_value("5m")
    # a filter the server refuses (an unknown status in the address) shows its 400, not a blank page
    page.goto(f"{server.admin_url}/ui/#/invocations?status=sleeping")
    expect(page.get_by_role("alert")).to_contain_text("400 unknown status 'sleeping'")


def test_a_narrow_screen_shows_the_list_without_sideways_scrolling(
    browser: Browser, server: UiServer
) -> None:
    inv = server.send("/shop/echo", "narrow")
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{server.admin_url}/ui/")
        expect(page.locator(f'tr[data-id="{inv}"]')).to_be_visible()
        expect(page.get_by_role("link", name="Awakeables")).to_be_visible()
        width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= viewport
        page.locator(f'tr[data-id="{inv}"] a').click()
        expect(page.locator("#invocation-id")).to_have_text(inv)
        width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= viewport
    finally:
        context.close()
