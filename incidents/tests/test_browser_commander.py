"""A commander's pages in headless Chromium: what changes in place after an
action, the status page moving a resolved incident to the past, and the routing
editor's rows. Screenshots at laptop and phone width go to `screenshots/`."""

from __future__ import annotations

from typing import Any

from incidents.integrations.tests.helpers import make
from incidents.models import IntegrationKind
from incidents.tests.test_browser import (
    LIVE_BUDGET_MS,
    SCREENSHOTS,
    AsgiServer,
    _launch,
    _session_cookie,
    _wait_live,
    live_asgi,  # noqa: F401 - registers the fixture
)
from incidents.tests.test_browser import pytestmark as browser_marks
from portal.tests.factories import declare

pytestmark = browser_marks

WIDTHS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _shoot(browser: Any, cookie: dict[str, Any], url: str, name: str) -> None:
    for label, viewport in WIDTHS.items():
        context = browser.new_context(viewport=viewport)
        context.add_cookies([cookie])
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        context.close()


def test_after_an_action_the_declared_banner_goes_and_the_status_choices_follow(live_asgi: AsgiServer, cast: Any) -> None:  # noqa: F811 - the fixture
    from playwright.sync_api import expect, sync_playwright

    cookie = _session_cookie(cast.responder, live_asgi)
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            context = browser.new_context(viewport=WIDTHS["laptop"])
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto(f"{live_asgi.url}/incidents/declare/")
            page.fill("input[name=title]", "Payments are timing out")
            page.check("input[name=visibility][value=public]")
            page.click("#declare-form button[type=submit]")
            page.wait_for_url("**/incidents/INC-*/")
            _wait_live(page)
            expect(page.locator("main > .messages")).to_contain_text("declared")
            expect(page.locator("#status-choices option:checked")).to_have_text("Identified")
            page.evaluate("window.__notReloaded = true")

            page.click("label[for=tab-status]")
            page.click("[data-action=change-status]")
            expect(page.locator("#composer-feedback")).to_contain_text("Status is now Identified.")
            expect(page.locator("main > .messages")).to_have_count(0)
            expect(page.locator('#incident-header [data-field="status"]')).to_have_text("Identified", timeout=LIVE_BUDGET_MS)
            # The choices now start from Identified: the next step is Monitoring.
            expect(page.locator("#status-choices option:checked")).to_have_text("Monitoring", timeout=LIVE_BUDGET_MS)
            expect(page.locator("#status-choices option")).to_have_text(["Investigating", "Monitoring", "Resolved"])
            expect(page.locator("#timeline .kind-status_change").first).to_contain_text("Identified")
            assert page.evaluate("window.__notReloaded === true")
            page.screenshot(path=str(SCREENSHOTS / "war-room-after-action.png"), full_page=True)
        finally:
            browser.close()


def test_a_resolved_incident_moves_to_the_past_on_an_open_status_page(live_asgi: AsgiServer, cast: Any) -> None:  # noqa: F811 - the fixture
    from playwright.sync_api import expect, sync_playwright

    from incidents import services

    incident = declare(by=cast.responder, title="Checkout is failing", visibility="public", impacts={cast.service: "major_outage"})
    services.incident_post_update(incident=incident, body="We are looking into it.", by=cast.responder)
    cookie = _session_cookie(cast.responder, live_asgi)
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            public = browser.new_context(viewport=WIDTHS["laptop"]).new_page()
            public.goto(f"{live_asgi.url}/status/")
            expect(public.locator('[data-field="connection"]')).to_have_text("live updates on", timeout=10_000)
            active = public.locator(f'[data-live="incidents"] [data-incident-id="{incident.pk}"]')
            expect(active).to_have_count(1)
            last_change = public.locator('[data-live="updated"] time').get_attribute("datetime")
            public.evaluate("window.__notReloaded = true")

            commander = browser.new_context(viewport=WIDTHS["laptop"])
            commander.add_cookies([cookie])
            room = commander.new_page()
            room.goto(f"{live_asgi.url}/incidents/{incident.reference}/")
            room.click("label[for=tab-status]")
            room.select_option("#status-choices", "resolved")
            room.click("[data-action=change-status]")
            expect(room.locator("#composer-feedback")).to_contain_text("Status is now Resolved.")

            expect(active).to_have_count(0, timeout=LIVE_BUDGET_MS)
            past = public.locator(f'[data-live="past"] a[href="/status/incidents/{incident.pk}/"]')
            expect(past).to_have_count(1)
            expect(past.locator("xpath=following-sibling::span")).to_have_text("Resolved")
            assert public.locator('[data-live="updated"] time').get_attribute("datetime") != last_change
            assert public.evaluate("window.__notReloaded === true")
            public.screenshot(path=str(SCREENSHOTS / "status-after-resolution.png"), full_page=True)
        finally:
            browser.close()


def test_the_routing_editor_adds_rows_saves_them_and_tries_a_sample(live_asgi: AsgiServer, cast: Any) -> None:  # noqa: F811 - the fixture
    from playwright.sync_api import expect, sync_playwright

    integration, _ = make(IntegrationKind.ALERTMANAGER)
    incident = declare(by=cast.responder, title="Checkout is failing", visibility="public", impacts={cast.service: "major_outage"})
    cookie = _session_cookie(cast.owner, live_asgi)
    url = f"{live_asgi.url}/integrations/{integration.pk}/"
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            context = browser.new_context(viewport=WIDTHS["laptop"])
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto(url)
            page.fill("input[name=rule-0-field]", "labels.alertname")
            page.fill("input[name=rule-0-value]", "PortalSample")
            page.select_option("select[name=rule-0-services]", "api")
            page.click("[data-add-row=rule]")
            expect(page.locator("[data-rows=rule] > li")).to_have_count(2)
            page.fill("input[name=rule-1-field]", "labels.team")
            page.fill("input[name=rule-1-value]", "~pay.*")
            page.fill("input[name=map-0-value]", "warning")
            page.select_option("select[name=map-0-severity]", label="SEV4")

            page.click("text=Test the rows on screen")
            result = page.locator("#routing-test")
            expect(result).to_contain_text("Public API")
            expect(result.locator('[data-field="severity"] strong')).to_have_text("SEV4")
            assert page.url == url  # the dry run came in place

            page.click("text=Save routing")
            page.wait_for_url(url + "#routing")
            expect(page.locator("main > .messages")).to_contain_text("Routing and severity mapping saved.")
            expect(page.locator("input[name=rule-1-value]")).to_have_value("~pay.*")
            expect(page.locator("input[name=map-0-value]")).to_have_value("warning")
            context.close()

            # Every page changed here, at laptop and phone width.
            for path, name in [
                (f"/integrations/{integration.pk}/", "integration-detail"), ("/integrations/", "integration-list"),
                ("/integrations/alerts/", "alerts"), ("/maintenance/", "maintenance"), ("/postmortems/", "postmortems"),
                (f"/incidents/{incident.reference}/", "war-room"), ("/status/", "status"),
            ]:  # fmt: skip
                _shoot(browser, cookie, live_asgi.url + path, name)
        finally:
            browser.close()
