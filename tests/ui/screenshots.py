"""The screenshots in docs/ (an invocation's timeline, the awakeables page), taken from a real
`awaken serve ui_app:app` with real invocations, in Debian's headless Chromium:

    python -m tests.ui.screenshots
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.ui.conftest import UI_DIR, UiServer

DOCS = UI_DIR.parents[1] / "docs"


def main() -> int:
    executable = shutil.which("chromium")
    if executable is None:
        print("no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as workdir, sync_playwright() as p:
        server = UiServer("ui_app:app", Path(workdir), cwd=UI_DIR).start()
        try:
            for i, item in enumerate(["notebook", "desk lamp", "espresso machine"]):
                server.post(f"/cart/customer-{i}/add", item)
                order = server.start_order(item)
            for note in ("refund #1041", "manual review"):
                server.send("/shop/wait", note)
            browser = p.chromium.launch(executable_path=executable)
            page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
            page.goto(f"{server.admin_url}/ui/#/invocations/{order}")
            expect(page.locator(".timeline .entry[data-index]")).to_have_count(4)
            page.screenshot(path=str(DOCS / "ui-timeline.png"), full_page=True)

            awakeable = server.awakeable_of(order)
            page.goto(f"{server.admin_url}/ui/#/awakeables")
            page.get_by_role("button", name=f"Resolve or reject {awakeable}").click()
            page.get_by_label("Payload (JSON)").fill('{"approved": "yes", "reviewer": "ada"}')
            expect(page.locator("#payload-checks")).to_contain_text("is not of type 'boolean'")
            page.screenshot(path=str(DOCS / "ui-awakeables.png"), full_page=True)
            browser.close()
        finally:
            server.close()
    print(f"wrote {DOCS / 'ui-timeline.png'} and {DOCS / 'ui-awakeables.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
