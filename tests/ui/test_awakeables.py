"""Pending awakeables in a real browser: listed with invocation, age, deadline and schema;
resolved through the form (checked against the schema in the browser first) until the invocation
completes; the server's 400 shown with its errors; rejected with a reason and code."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import UiServer


def _open_form(page: Page, server: UiServer, awakeable: str) -> None:
    page.goto(f"{server.admin_url}/ui/#/awakeables")
    row = page.locator(f'tr[data-id="{awakeable}"]')
    expect(row).to_contain_text("Approval {approved, reviewer}")
    row.get_by_role("button", name=f"Resolve or reject {awakeable}").click()
    expect(page.locator("#complete-panel")).to_be_visible()


def test_lists_the_pending_with_invocation_age_deadline_and_schema(page: Page, server: UiServer) -> None:
    order = server.start_order("listed")
    awakeable = server.awakeable_of(order)
    page.goto(f"{server.admin_url}/ui/#/awakeables")
    row = page.locator(f'tr[data-id="{awakeable}"]')
    expect(row).to_contain_text(order)
    expect(row).to_contain_text("shop/order")
    expect(row.locator("td").nth(4)).to_contain_text("in 59m")  # a one-hour deadline
    expect(row.locator("td").nth(3)).to_have_text(_AGE)
    row.get_by_role("button", name=f"Resolve or reject {awakeable}").click()
    expect(page.locator("#schema")).to_contain_text('"reviewer"')
    row.get_by_role("link", name=order).click()
    expect(page.locator("#invocation-id")).to_have_text(order)


def test_resolve_through_the_form_completes_the_invocation(page: Page, server: UiServer) -> None:
    order = server.start_order("desk")
    awakeable = server.awakeable_of(order)
    assert awakeable is not None
    _open_form(page, server, awakeable)
    payload = page.get_by_label("Payload (JSON)")
    resolve = page.get_by_role("button", name="Resolve", exact=True)
    checks = page.locator("#payload-checks")

    payload.fill('{"approved": "yes"}')  # checked in the browser: nothing is sent
    expect(checks).to_contain_text("approved: \"yes\" is not of type 'boolean'")
    expect(checks).to_contain_text("'reviewer' is a required property")
    expect(resolve).to_be_disabled()
    expect(payload).to_have_attribute("aria-invalid", "true")
    payload.fill("{not json")
    expect(checks).to_contain_text("not JSON")
    assert server.awakeable_of(order) == awakeable

    payload.fill('{"approved": true, "reviewer": "grace"}')
    expect(checks).to_contain_text("matches the expected type")
    resolve.click()
    expect(page.locator("#complete-answer")).to_contain_text("Resolved: Accepted")
    expect(page.locator(f'tr[data-id="{awakeable}"]')).to_have_count(0)

    page.locator("#complete-answer").get_by_role("link", name="See the invocation").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator(".facts")).to_contain_text('"by":"grace"')
    done = server.invocation(order)
    assert done["output"] == {
        "value": {"reserved": "reserved desk", "price": 40, "approved": True, "by": "grace"}
    }


def test_the_servers_400_shows_with_its_errors(page: Page, server: UiServer) -> None:
    order = server.start_order("chair")
    awakeable = server.awakeable_of(order)
    assert awakeable is not None
    _open_form(page, server, awakeable)
    page.get_by_label("Payload (JSON)").fill('{"approved": 3}')
    resolve = page.get_by_role("button", name="Resolve", exact=True)
    expect(resolve).to_be_disabled()
    page.get_by_label("send without checking in the browser").check()
    expect(resolve).to_be_enabled()
    resolve.click()
    alert = page.locator("#complete-answer [role=alert]")
    expect(alert).to_contain_text("400")
    expect(alert.locator("li").first).to_be_visible()  # the server's validation errors, listed
    expect(alert).to_contain_text("reviewer")
    expect(page.locator("#complete-answer")).to_contain_text("does not match the awakeable's type")
    assert server.awakeable_of(order) == awakeable  # still waiting
    assert server.invocation(order)["status"] in ("running", "suspended")  # waiting, in memory or not


def test_reject_with_a_reason_and_code_and_a_second_completion_is_409_or_410(
    page: Page, server: UiServer
) -> None:
    order = server.start_order("sofa")
    awakeable = server.awakeable_of(order)
    assert awakeable is not None
    _open_form(page, server, awakeable)
    page.get_by_label("Reason").fill("out of budget")
    page.get_by_label("Code (400").fill("422")
    page.get_by_role("button", name="Reject", exact=True).click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("out of budget")
    dialog.get_by_role("button", name="Reject").click()
    expect(page.locator("#complete-answer")).to_contain_text("Rejected: Accepted")
    done = server.wait_for_status(order, "completed")
    assert done["completion_failure"] == {"code": 422, "message": "out of budget"}

    # the form still shows: resolving now is refused, and the page says why
    page.get_by_label("Payload (JSON)").fill('{"approved": true, "reviewer": "late"}')
    page.get_by_role("button", name="Resolve", exact=True).click()
    alert = page.locator("#complete-answer [role=alert]")
    expect(alert).to_contain_text(_CONFLICT_OR_GONE)


def test_the_form_fits_a_narrow_screen(browser: Browser, server: UiServer) -> None:
    order = server.start_order("narrow")
    awakeable = server.awakeable_of(order)
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{server.admin_url}/ui/#/awakeables")
        page.get_by_role("button", name=f"Resolve or reject {awakeable}").click()
        expect(page.get_by_label("Payload (JSON)")).to_be_visible()
        width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width <= viewport
        page.get_by_label("Payload (JSON)").fill('{"approved": false, "reviewer": "on the phone"}')
        page.get_by_role("button", name="Resolve", exact=True).click()
        expect(page.locator("#complete-answer")).to_contain_text("Resolved: Accepted")
    finally:
        context.close()


_AGE = re.compile(r"^\d+(\.\d+)?(ms|s)$|^\d+m \d+s$")
_CONFLICT_OR_GONE = re.compile(r"^(409|410) ")

CASES: list[tuple[dict[str, Any], Any, list[str]]] = [
    ({"type": "integer"}, 3, []),
    ({"type": "integer"}, 3.5, ["3.5 is not of type 'integer'"]),
    ({"type": ["string", "null"]}, None, []),
    ({"enum": ["a", "b"]}, "c", ['"c" is not one of ["a","b"]']),
    ({"type": "array", "items": {"type": "number", "minimum": 0}}, [1, -2], ["1: -2 is less than 0"]),
    (
        {
            "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
            "$ref": "#/$defs/P",
        },
        {"y": 1},
        ["'x' is a required property"],
    ),
    ({"anyOf": [{"type": "string"}, {"type": "null"}]}, 1, ["1 matches none of the allowed shapes"]),
    (
        {"type": "object", "additionalProperties": False, "properties": {"a": {}}},
        {"a": 1, "b": 2},
        ["unexpected 'b'"],
    ),
    (
        {"type": "string", "minLength": 2, "pattern": "^[a-z]+$"},
        "A",
        ['"A" is shorter than 2 characters', "\"A\" does not match '^[a-z]+$'"],
    ),
    (
        {"prefixItems": [{"type": "string"}, {"type": "integer"}], "type": "array"},
        ["a", "b"],
        ["1: \"b\" is not of type 'integer'"],
    ),
    (
        {"type": "object", "properties": {"n": {"exclusiveMaximum": 5}}},
        {"n": 5},
        ["n: 5 must be less than 5"],
    ),
    ({"format": "email", "type": "string"}, "not an email", []),  # unknown to it: the server checks
]


@pytest.mark.parametrize(("schema", "value", "errors"), CASES)
def test_the_browsers_schema_check(
    page: Page, server: UiServer, schema: Any, value: Any, errors: list[str]
) -> None:
    page.goto(f"{server.admin_url}/ui/")
    found = page.evaluate(
        "async ([schema, value]) => (await import('./schema.js')).validate(schema, value)", [schema, value]
    )
    assert found == errors
