"""One invocation in a real browser: its journal as a timeline (a step with its retries, a sleep,
a call with a link to the callee and back, a pending awakeable), payloads cut with a way to see
them whole, and the actions, each behind a confirmation."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.ui.conftest import UiServer


def test_the_journal_reads_as_a_timeline_with_links_to_callee_and_caller(
    page: Page, server: UiServer
) -> None:
    order = server.start_order("lamp")
    page.goto(f"{server.admin_url}/ui/")
    page.locator(f'tr[data-id="{order}"] a').click()
    expect(page.locator("#invocation-id")).to_have_text(order)
    expect(page.locator("h1")).to_contain_text("shop/order")
    expect(page.locator("h1 .badge")).to_have_text("suspended")

    entries = page.locator(".timeline .entry[data-index]")
    expect(entries).to_have_count(4)
    assert entries.evaluate_all("es => es.map(e => e.dataset.kind)") == ["run", "sleep", "call", "awakeable"]
    step = entries.nth(0)
    expect(step.locator(".name")).to_have_text("reserve")
    expect(step).to_contain_text('result: "reserved lamp"')
    expect(step.locator(".retries")).to_contain_text("1 failed try, last:")
    expect(step.locator(".retries")).to_contain_text("warehouse busy for lamp")
    expect(step.locator(".took")).to_have_text(re.compile(r"^\d+(ms|\.\d+s)$"))
    sleep = entries.nth(1)
    took = sleep.locator(".took").inner_text()  # a 50 ms sleep lasts at least that
    assert (took.endswith("ms") and int(took[:-2]) >= 50) or took.endswith("s"), took
    waiting = entries.nth(3).locator(".took")
    expect(waiting).to_have_text(re.compile(r"^waiting "))
    first = waiting.inner_text()
    expect(waiting).not_to_have_text(first, timeout=5000)  # its clock moves without a reload
    expect(entries.nth(3)).to_contain_text("awakeable sign_1")

    call = entries.nth(2)
    expect(call.locator(".name")).to_have_text("shop/price")
    expect(call).to_contain_text("result: 40")
    callee = call.locator("a.callee")
    callee_id = callee.inner_text()
    callee.click()
    expect(page.locator("#invocation-id")).to_have_text(callee_id)
    expect(page.locator("h1")).to_contain_text("shop/price")
    page.locator("#caller-link").click()
    expect(page.locator("#invocation-id")).to_have_text(order)


def test_a_long_payload_is_cut_with_a_way_to_see_all(page: Page, server: UiServer) -> None:
    text = "long-" + "x" * 600 + "-end"
    inv = server.send("/shop/echo", text)
    server.wait_for_status(inv, "completed")
    page.goto(f"{server.admin_url}/ui/#/invocations/{inv}")
    outcome = page.locator(".facts dd").filter(has=page.locator("details.payload")).first
    expect(outcome.locator("summary")).to_contain_text("show all (")
    expect(outcome.locator("summary code")).not_to_contain_text("-end")
    expect(outcome.locator("pre")).to_be_hidden()
    outcome.locator("summary").click()
    expect(outcome.locator("pre")).to_be_visible()
    expect(outcome.locator("pre")).to_contain_text("-end")
    expect(page.locator(".timeline .entry.end")).to_contain_text("completed")


def test_a_long_journal_is_drawn_by_pages_and_raw_entries_on_demand(page: Page, server: UiServer) -> None:
    inv = server.send("/shop/steps", 250)
    server.wait_for_status(inv, "completed")
    page.goto(f"{server.admin_url}/ui/#/invocations/{inv}")
    entries = page.locator(".timeline .entry[data-index]")
    expect(entries).to_have_count(200)
    expect(page.locator("#journal-heading")).to_have_text("Journal (250 entries)")
    expect(page.locator(".timeline .entry.end")).to_have_count(0)
    page.get_by_role("button", name="Show 50 more of 50 entries").click()
    expect(entries).to_have_count(250)
    expect(entries.last.locator(".name")).to_have_text("step 249")
    expect(page.locator(".timeline .entry.end")).to_contain_text("completed")

    raw = entries.nth(7).locator("details.raw")
    expect(raw.locator("pre")).to_have_count(0)
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_contain_text('"name": "step 7"')


def test_cancel_asks_first_then_ends_the_invocation(page: Page, server: UiServer) -> None:
    inv = server.send("/shop/wait", "to-cancel")
    server.wait_for_status(inv, "suspended", "running")
    page.goto(f"{server.admin_url}/ui/#/invocations/{inv}")
    cancel = page.get_by_role("button", name="Cancel invocation")
    expect(cancel).to_be_enabled()
    expect(page.get_by_role("button", name="Purge invocation")).to_be_disabled()

    cancel.click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Cancel this invocation?")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    assert server.invocation(inv)["status"] in ("suspended", "running")  # nothing was sent

    cancel.click()
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator(".facts")).to_contain_text("failure")
    done = server.invocation(inv)
    assert done["status"] == "completed" and done["completion_failure"]["code"] == 409

    page.get_by_role("button", name="Purge invocation").click()
    dialog.get_by_role("button", name="Purge").click()
    expect(page.locator("#notice")).to_contain_text(f"Purged {inv}")
    expect(page.locator("h1")).to_have_text("Invocations")
    assert server.client.get(f"{server.admin_url}/invocations/{inv}").status_code == 404


def test_pause_resume_and_kill(page: Page, server: UiServer) -> None:
    inv = server.send("/shop/wait", "to-pause")
    server.wait_for_status(inv, "suspended", "running")
    page.goto(f"{server.admin_url}/ui/#/invocations/{inv}")
    dialog = page.locator("#confirm-dialog")
    page.get_by_role("button", name="Pause invocation").click()
    dialog.get_by_role("button", name="Pause").click()
    expect(page.locator("h1 .badge")).to_have_text("paused")
    assert server.invocation(inv)["status"] == "paused"

    resume = page.get_by_role("button", name="Resume invocation")
    expect(resume).to_be_enabled()
    resume.click()
    dialog.get_by_role("button", name="Resume").click()
    expect(page.locator("h1 .badge")).not_to_have_text("paused")
    server.wait_for_status(inv, "suspended", "running")

    page.get_by_role("button", name="Kill invocation").click()
    dialog.get_by_role("button", name="Kill").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    assert server.invocation(inv)["completion_failure"]["code"] == 409


def test_a_failing_invocation_shows_attempts_next_retry_and_last_failure(
    page: Page, server: UiServer
) -> None:
    inv = server.send("/shop/fragile", "db-17")
    server.wait_for_status(inv, "backing-off")
    page.goto(f"{server.admin_url}/ui/#/invocations/{inv}")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Last failure")
    expect(facts).to_contain_text("dependency down: db-17")
    expect(facts).to_contain_text(re.compile(r"Next retry\s*in "))
    expect(facts.locator("dd").nth(1)).to_have_text(re.compile(r"^[1-9]\d* failed so far$"))
    attempts = int(facts.locator("dd").nth(1).inner_text().split()[0])
    expect(facts.locator("dd").nth(1)).not_to_have_text(f"{attempts} failed so far", timeout=10_000)  # live
    page.get_by_role("button", name="Kill invocation").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Kill").click()
    expect(page.locator("h1 .badge")).to_have_text("completed")


def test_an_unknown_invocation_says_so(page: Page, server: UiServer) -> None:
    missing = "inv_1" + "0" * 33
    page.goto(f"{server.admin_url}/ui/#/invocations/{missing}")
    expect(page.get_by_role("alert")).to_contain_text("404")
