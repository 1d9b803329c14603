"""The status page in real headless Chromium says how old it is: a snapshot that has
not been rebuilt for 12 minutes is flagged as possibly out of date, and the next
rebuild clears the flag on the open page without a reload. Screenshots at laptop
and phone width go to `screenshots/`."""

from __future__ import annotations

import threading
from typing import Any

from django.db import connections

from incidents.public import rebuild
from incidents.services import incident_post_update
from incidents.tests.test_browser import SCREENSHOTS, AsgiServer, _launch, live_asgi, pytestmark  # noqa: F401
from incidents.tests.test_public_freshness import _install_old
from portal.tests.factories import declare


def _in_thread(work: Any) -> None:
    """Database work while Playwright's event loop owns this thread."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)


def test_a_stale_status_page_says_so_and_recovers_live(
    live_asgi: AsgiServer,  # noqa: F811 - the fixture imported above
    cast: Any,
    snapshot_dir: Any,
    settings: Any,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings.PUBLIC_SNAPSHOT_STALE_SECONDS = 300
    incident = declare(by=cast.responder, title="Checkout is failing", sev="SEV2", visibility="public", impacts={cast.service: "partial_outage"})
    incident_post_update(incident=incident, body="We are investigating elevated error rates on checkout.", by=cast.responder)
    _install_old(minutes=12)
    SCREENSHOTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            laptop = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            laptop.goto(f"{live_asgi.url}/status/")
            freshness = laptop.locator('[data-field="freshness"]')
            expect(freshness).to_have_class("freshness stale")
            expect(freshness).to_contain_text("Updated 12 minutes ago")
            expect(laptop.locator('[data-field="stale-notice"]')).to_be_visible()
            expect(laptop.locator('[data-field="connection"]')).to_have_text("live updates on", timeout=10_000)
            laptop.screenshot(path=str(SCREENSHOTS / "status-stale.png"), full_page=True)

            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True).new_page()
            phone.goto(f"{live_asgi.url}/status/")
            expect(phone.locator('[data-field="stale-notice"]')).to_be_visible()
            phone.screenshot(path=str(SCREENSHOTS / "status-stale-phone.png"), full_page=True)

            laptop.evaluate("window.__notReloaded = true")
            _in_thread(rebuild.rebuild)  # content unchanged, but 12 minutes old: republished and pushed
            expect(freshness).to_have_class("freshness", timeout=5_000)
            expect(freshness).to_contain_text("Updated just now")
            expect(laptop.locator('[data-field="stale-notice"]')).to_be_hidden()
            assert laptop.evaluate("window.__notReloaded === true")
            laptop.screenshot(path=str(SCREENSHOTS / "status-fresh.png"), full_page=True)
            phone.reload()
            expect(phone.locator('[data-field="freshness"]')).to_contain_text("Updated just now")
            phone.screenshot(path=str(SCREENSHOTS / "status-fresh-phone.png"), full_page=True)
        finally:
            browser.close()
