"""A virtual object's state read and edited in a real browser; services with their handlers and
schemas; deployments."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import eventually
from tests.ui.conftest import UiServer


def test_reads_and_edits_an_objects_state(page: Page, server: UiServer) -> None:
    add = server.post("/cart/state-1/add", "pen")
    assert add.status_code == 200, add.text
    page.goto(f"{server.admin_url}/ui/#/state")
    page.get_by_label("Object or workflow").select_option("cart")
    # the keys of the object's recent invocations are offered
    expect(page.locator('#s-keys option[value="state-1"]')).to_have_count(1)
    page.get_by_label("Key", exact=True).fill("state-1")
    page.get_by_role("button", name="Show state").click()
    values = page.locator("table[aria-label='State values']")
    expect(values.locator('tr[data-name="items"]')).to_contain_text('["pen"]')
    expect(values.locator('tr[data-name="owner"]')).to_contain_text('"state-1"')

    editor = page.get_by_label("Edit the whole state")
    editor.fill("{not json")
    page.get_by_role("button", name="Save state").click()
    expect(page.locator("#state-answer [role=alert]")).to_contain_text("not JSON")

    editor.fill('{"items": ["pen", "ink", "paper"]}')
    page.get_by_role("button", name="Save state").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("removed: owner")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("Saved the state of cart/state-1")
    expect(values.locator('tr[data-name="items"]')).to_contain_text('["pen","ink","paper"]')
    expect(values.locator('tr[data-name="owner"]')).to_have_count(0)
    stored = server.admin("/services/cart/state/state-1")["state"]
    assert stored == {"items": ["pen", "ink", "paper"]}
    # the handler reads what was written
    assert server.post("/cart/state-1/items").json() == ["pen", "ink", "paper"]


def test_a_save_while_an_invocation_holds_the_key_shows_the_409(page: Page, server: UiServer) -> None:
    assert server.post("/cart/state-3/add", "pen").status_code == 200
    holder = server.send("/cart/state-3/hold")
    awakeable = eventually(lambda: server.awakeable_of(holder), what="the holder's awakeable")
    page.goto(f"{server.admin_url}/ui/#/state?service=cart&key=state-3")
    editor = page.get_by_label("Edit the whole state")
    expect(editor).to_have_value(re.compile(r'"items": \[\s*"pen"\s*\]'))
    editor.fill('{"items": []}')
    page.get_by_role("button", name="Save state").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Save").click()
    answer = page.locator("#state-answer")
    expect(answer.get_by_role("alert")).to_contain_text("409")
    expect(answer).to_contain_text("An invocation holds this key now")
    assert server.admin("/services/cart/state/state-3")["state"]["items"] == ["pen"]
    assert server.resolve(awakeable, "done").status_code == 202
    server.wait_for_status(holder, "completed")
    page.get_by_role("button", name="Save state").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Save").click()
    expect(page.locator("#notice")).to_contain_text("Saved the state of cart/state-3")
    assert server.admin("/services/cart/state/state-3")["state"] == {"items": []}


def test_an_invocation_of_a_key_links_to_its_state(page: Page, server: UiServer) -> None:
    inv = server.post("/cart/state-2/add", "cup").headers["x-restate-id"]
    page.goto(f"{server.admin_url}/ui/#/invocations/{inv}")
    page.get_by_role("link", name="State of this key").click()
    expect(page.locator('tr[data-name="items"]')).to_contain_text('["cup"]')
    expect(page.get_by_label("Object or workflow")).to_have_value("cart")


def test_services_show_handlers_and_schemas(page: Page, server: UiServer) -> None:
    page.goto(f"{server.admin_url}/ui/#/services")
    shop = page.locator('section[data-service="shop"]')
    expect(shop).to_contain_text("Service")
    order = shop.locator('tr[data-handler="order"]')
    expect(order).to_contain_text("input: string")
    cart = page.locator('section[data-service="cart"]')
    expect(cart.locator('tr[data-handler="items"]')).to_contain_text("Shared")
    expect(cart.locator('tr[data-handler="add"]')).to_contain_text("Exclusive")
    order.locator("summary", has_text="output").click()
    expect(order.locator("pre").last).to_contain_text('"type": "object"')
    order.get_by_role("link", name="order").click()
    expect(page.get_by_label("Handler", exact=True)).to_have_value("order")


def test_deployments_page_says_when_there_are_none(page: Page, server: UiServer) -> None:
    page.goto(f"{server.admin_url}/ui/#/deployments")
    expect(page.locator("#no-deployments")).to_contain_text("No deployment is registered")
