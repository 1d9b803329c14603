"""Every main page in headless Chromium, as a signed-in responder, as a manager and
as the public, under the real Content-Security-Policy: any violation (a console
"Refused to ..." error or a securitypolicyviolation event) fails the test. The
pages are also used: live updates connect, a note is posted through htmx, the
API docs render. Screenshots of the sign-in, lock-out and Lock-outs pages go to
`screenshots/` at laptop and phone width.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings

from incidents.tests.test_browser import (
    CHROMIUM,
    SCREENSHOTS,
    AsgiServer,
    _launch,
    _session_cookie,
    _wait_live,
)
from incidents.tests.test_browser import live_asgi as live_asgi  # noqa: F401 - the fixture
from portal.tests.factories import declare

if not os.path.exists(CHROMIUM) and not os.environ.get("REQUIRE_BROWSER"):
    pytestmark = [pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium); set REQUIRE_BROWSER=1 to fail instead")]
else:
    pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_transactional_db")]

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

# Runs before any page script; listens for violations the policy reports.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


class Watcher:
    """Collects CSP violations of every page of a browser context."""

    def __init__(self, context: Any) -> None:
        self.errors: list[str] = []
        context.add_init_script(WATCH)
        context.on("page", self._attach)

    def _attach(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            text = message.text
            if "Content Security Policy" in text or "Content-Security-Policy" in text:
                self.errors.append(f"{page.url}: {text}")

        page.on("console", on_console)

    def visit(self, page: Any, url: str) -> Any:
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        return response

    def check(self, page: Any) -> None:
        violations = page.evaluate("window.__cspViolations || []")
        self.errors += [f"{page.url}: {v}" for v in violations]


def test_no_page_breaks_the_content_security_policy(live_asgi: AsgiServer, cast: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    from incidents.integrations.services import integration_create
    from incidents.public import rebuild
    from portal.tests.factories import UserFactory

    incident = declare(by=cast.responder, title="Checkout is failing", sev="SEV1", visibility="public",
                       impacts={cast.service: "major_outage"}, commander=cast.responder)  # fmt: skip
    integration, _ = integration_create(kind="alertmanager", name="Prometheus", by=cast.owner)
    rebuild.rebuild()
    UserFactory.create(username="root", is_staff=True, is_superuser=True)
    base = live_asgi.url
    responder_cookie = _session_cookie(cast.responder, live_asgi)
    manager_cookie = _session_cookie(cast.owner, live_asgi)
    SCREENSHOTS.mkdir(exist_ok=True)

    responder_pages = [
        "/", "/incidents/", f"/incidents/{incident.reference}/", f"/incidents/{incident.reference}/postmortem/",
        "/services/", f"/services/{cast.service.slug}/", "/maintenance/", "/postmortems/", "/integrations/alerts/",
        "/incidents/declare/", "/oncall/schedules/", "/oncall/policies/", "/oncall/me/", "/oncall/deliveries/",
        "/no-such-page/",
    ]  # fmt: skip
    manager_pages = ["/integrations/", f"/integrations/{integration.pk}/", "/lockouts/"]
    public_pages = ["/status/", "/status/history/", f"/status/incidents/{incident.pk}/", "/status/subscribe/", "/accounts/login/"]

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            # The detector itself: an inline script added to a page is blocked and reported.
            probe_context = browser.new_context()
            probe = Watcher(probe_context)
            page = probe_context.new_page()
            probe.visit(page, f"{base}/status/")
            page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }")
            page.wait_for_timeout(100)
            probe.check(page)
            assert page.evaluate("window.__ran") is None
            assert any("script-src" in e for e in probe.errors), probe.errors

            responder = browser.new_context(viewport=LAPTOP)
            responder.add_cookies([responder_cookie])
            watch = Watcher(responder)
            page = responder.new_page()
            for path in responder_pages:
                watch.visit(page, base + path)
                watch.check(page)

            # The war room in use: live updates connect, a note posts through htmx and the form empties.
            watch.visit(page, f"{base}/incidents/{incident.reference}/")
            _wait_live(page)
            page.fill(".panel-note textarea[name=body]", "Rolled back the deploy")
            page.click(".panel-note button[type=submit]")
            expect(page.locator("#timeline")).to_contain_text("Rolled back the deploy")
            expect(page.locator(".panel-note textarea[name=body]")).to_have_value("")
            sev = page.locator("#incident-header .sev").first
            assert sev.evaluate("el => el.style.getPropertyValue('--sev-colour')") != ""
            watch.check(page)

            # The API docs render Swagger UI from the sidecar, with its own policy.
            watch.visit(page, f"{base}/api/docs/")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("Incident Portal API", timeout=15_000)
            expect(page.locator(".opblock").first).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
            watch.check(page)

            manager = browser.new_context(viewport=LAPTOP)
            manager.add_cookies([manager_cookie])
            mwatch = Watcher(manager)
            mpage = manager.new_page()
            for path in manager_pages:
                mwatch.visit(mpage, base + path)
                mwatch.check(mpage)

            public = browser.new_context(viewport=LAPTOP)
            pwatch = Watcher(public)
            ppage = public.new_page()
            for path in public_pages:
                pwatch.visit(ppage, base + path)
                pwatch.check(ppage)
            ppage.goto(f"{base}/status/")
            expect(ppage.locator('[data-field="connection"]')).to_have_text("live updates on", timeout=10_000)
            pwatch.check(ppage)

            # The admin, signed in through its own login page.
            pwatch.visit(ppage, f"{base}/admin/login/")
            ppage.fill("input[name=username]", "root")
            ppage.fill("input[name=password]", "pw")
            ppage.click("input[type=submit]")
            ppage.wait_for_url(f"{base}/admin/")
            for path in ("/admin/", "/admin/incidents/incident/", f"/admin/incidents/incident/{incident.pk}/change/",
                         "/admin/axes/accessattempt/"):  # fmt: skip
                pwatch.visit(ppage, base + path)
                pwatch.check(ppage)

            errors = watch.errors + mwatch.errors + pwatch.errors
            assert errors == [], "\n".join(errors)
        finally:
            browser.close()


def test_the_sign_in_lock_out_and_lock_outs_pages_at_laptop_and_phone_width(live_asgi: AsgiServer, cast: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    manager_cookie = _session_cookie(cast.owner, live_asgi)
    base = live_asgi.url
    SCREENSHOTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
                context = browser.new_context(viewport=viewport, device_scale_factor=2 if name == "phone" else 1)
                watch = Watcher(context)
                page = context.new_page()
                watch.visit(page, f"{base}/accounts/login/")
                page.screenshot(path=str(SCREENSHOTS / f"login-{name}.png"), full_page=True)
                for n in range(settings.AXES_FAILURE_LIMIT):
                    page.fill("input[name=username]", "responder")
                    page.fill("input[name=password]", f"wrong-{n}")
                    page.click("button[type=submit]")
                    page.wait_for_load_state()
                expect(page.locator("h1")).to_have_text("Too many sign-in attempts")
                page.screenshot(path=str(SCREENSHOTS / f"locked-out-{name}.png"), full_page=True)
                watch.check(page)

                context.add_cookies([manager_cookie])
                watch.visit(page, f"{base}/lockouts/")
                expect(page.locator("#locked-accounts")).to_contain_text("responder")
                page.screenshot(path=str(SCREENSHOTS / f"lockouts-{name}.png"), full_page=True)
                page.click('tr[data-lockout="responder"] button')
                expect(page.locator(".messages")).to_contain_text("Lock-out lifted for account responder")
                watch.check(page)
                assert watch.errors == [], "\n".join(watch.errors)
                context.close()
        finally:
            browser.close()
