"""The run page in real headless Chromium against uvicorn: a second person approves
a step in one browser, and the run page open in another shows it run and succeed
within 2 seconds, without reload. Screenshots of the runbook pages go to
`screenshots/` (git-ignored)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from incidents.tests.test_browser import CHROMIUM, SCREENSHOTS, _launch, _session_cookie, _wait_live
from portal.tests.factories import declare
from runbooks.services import run_start, step_complete
from runbooks.tests.support import approver, cluster, latency_runbook

FIXTURES = Path(__file__).parent / "fixtures"
LIVE_BUDGET_MS = 2000

if not Path(CHROMIUM).exists():
    pytestmark = [pytest.mark.skip(reason=f"{CHROMIUM} is missing")]
else:
    pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_transactional_db")]


def test_an_approval_runs_the_step_and_the_run_page_updates_live(live_asgi: Any, cast: Any, k8s: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    incident = declare(by=cast.responder, title="API latency above 2 s", impacts={cast.service: "degraded_performance"})
    run = run_start(runbook=latency_runbook(cast.owner), by=cast.responder, incident=incident, cluster=cluster())
    first, scale, _ = run.step_runs.order_by("order")
    step_complete(step_run=first, by=cast.responder, outcome="succeeded", note="p99 at 2.3 s on the dashboard")
    other = approver()
    urls = {"run": f"{live_asgi.url}/runbooks/runs/{run.pk}/"}
    cookies = {"viewer": _session_cookie(cast.viewer, live_asgi), "approver": _session_cookie(other, live_asgi),
               "owner": _session_cookie(cast.owner, live_asgi)}  # fmt: skip
    SCREENSHOTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            watcher = browser.new_context(viewport={"width": 1366, "height": 900})
            watcher.add_cookies([cookies["viewer"]])
            page = watcher.new_page()
            page.goto(urls["run"])
            _wait_live(page)
            page.evaluate("window.__notReloaded = true")
            state = page.locator(f"#step-{scale.pk} .state-awaiting_approval")
            expect(state).to_have_text("Awaiting approval")
            expect(page.locator("text=Approve and run")).to_have_count(0)  # viewers read only

            acting = browser.new_context(viewport={"width": 1366, "height": 900})
            acting.add_cookies([cookies["approver"]])
            apage = acting.new_page()
            apage.goto(urls["run"])
            started = time.monotonic()
            apage.click(f"#step-{scale.pk} button:has-text('Approve and run')")
            expect(page.locator(f"#step-{scale.pk} .state-succeeded")).to_have_text("Succeeded", timeout=LIVE_BUDGET_MS)
            elapsed = time.monotonic() - started
            assert elapsed < LIVE_BUDGET_MS / 1000
            assert page.evaluate("window.__notReloaded === true")
            expect(page.locator(f"#step-{scale.pk}")).to_contain_text("scaled from 3 to 5")
            assert len(k8s.mutations()) == 1
            page.screenshot(path=str(SCREENSHOTS / "runbook-run.png"), full_page=True)

            room = watcher.new_page()
            room.goto(f"{live_asgi.url}/incidents/{incident.reference}/")
            expect(room.locator("#incident-runbooks")).to_contain_text("Runs")
            room.screenshot(path=str(SCREENSHOTS / "runbook-war-room.png"), full_page=True)

            manager = browser.new_context(viewport={"width": 1366, "height": 900})
            manager.add_cookies([cookies["owner"]])
            mpage = manager.new_page()
            mpage.goto(f"{live_asgi.url}/runbooks/import/")
            mpage.fill("textarea[name=markdown]", (FIXTURES / "api_gateway.md").read_text())
            mpage.click("button[name=preview]")
            expect(mpage.locator(".preview-runbook")).to_have_count(3)
            mpage.screenshot(path=str(SCREENSHOTS / "runbook-import-preview.png"), full_page=True)
            mpage.goto(f"{live_asgi.url}/runbooks/")
            mpage.screenshot(path=str(SCREENSHOTS / "runbook-library.png"), full_page=True)

            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
            phone.add_cookies([cookies["viewer"]])
            ppage = phone.new_page()
            ppage.goto(urls["run"])
            ppage.screenshot(path=str(SCREENSHOTS / "runbook-run-phone.png"), full_page=True)
            ppage.goto(f"{live_asgi.url}/runbooks/{run.runbook_id}/")
            ppage.screenshot(path=str(SCREENSHOTS / "runbook-detail-phone.png"), full_page=True)
        finally:
            browser.close()


def test_the_editor_adds_moves_and_types_a_step_in_the_browser(live_asgi: Any, cast: Any) -> None:
    """The editor's script: a new row, the inputs of the chosen action only, a row moved
    up (its order number follows); saved as shown. Screenshots at desktop and phone sizes."""
    from playwright.sync_api import expect, sync_playwright

    from portal.tests.factories import severity
    from runbooks.services import StepInput, checklist_attach, runbook_save

    runbook = latency_runbook(cast.owner)
    checklist = runbook_save(title="Major incident: first response", by=cast.owner, steps=[
        StepInput(title="Acknowledge", due_minutes=15), StepInput(title="Name a commander", due_minutes=15),
        StepInput(title="Post the first public update", due_minutes=15), StepInput(title="Check recent deployments", due_minutes=30),
        StepInput(title="Schedule the postmortem", due_minutes=2880, due_from="resolution"),
    ])  # fmt: skip
    checklist_attach(runbook=checklist, severity=severity("SEV1"), by=cast.owner)
    incident = declare(by=cast.responder, sev="SEV1", title="Checkout down")  # starts the checklist
    cookie, phone_cookie = _session_cookie(cast.owner, live_asgi), _session_cookie(cast.owner, live_asgi)
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto(f"{live_asgi.url}/runbooks/{runbook.pk}/edit/")
            rows = page.locator(".step-row")
            expect(rows).to_have_count(4)  # three steps and a blank row
            expect(rows.nth(1).locator('[data-params-for="k8s.scale"]')).to_be_visible()
            expect(rows.nth(1).locator('[data-params-for="k8s.set_env"]')).to_be_hidden()
            expect(rows.nth(0).locator('select[name$="-action"]')).to_be_hidden()  # a manual step has no action
            page.click("button[data-add-row=steps]")
            expect(rows).to_have_count(5)
            new = rows.nth(4)
            new.locator('input[name$="-title"]').fill("Restart the gateway")
            new.locator('select[name$="-kind"]').select_option("automated")
            new.locator('select[name$="-action"]').select_option("k8s.rollout_restart")
            expect(new.locator('[data-params-for="k8s.rollout_restart"]')).to_be_visible()
            new.locator('input[name$="-p_k8s_rollout_restart_name"]').fill("api-gateway")
            moved = new.element_handle()  # the same row wherever it moves
            moved.query_selector("button[data-move=up]").click()  # above the blank row
            moved.query_selector("button[data-move=up]").click()  # above the wait
            assert moved.query_selector('input[name$="-ORDER"]').input_value() == "3"
            page.screenshot(path=str(SCREENSHOTS / "runbook-editor.png"), full_page=True)
            page.click("button:has-text('Save runbook')")
            expect(page.locator("h1")).to_have_text(runbook.title)

            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
            phone.add_cookies([phone_cookie])
            ppage = phone.new_page()
            ppage.goto(f"{live_asgi.url}/runbooks/{runbook.pk}/edit/")
            ppage.screenshot(path=str(SCREENSHOTS / "runbook-editor-phone.png"), full_page=True)
            ppage.goto(f"{live_asgi.url}/runbooks/{checklist.pk}/edit/")
            ppage.screenshot(path=str(SCREENSHOTS / "runbook-checklist-editor-phone.png"), full_page=True)

            page.goto(f"{live_asgi.url}/incidents/{incident.reference}/")
            expect(page.locator("#incident-runbooks .checklist li")).to_have_count(5)
            page.locator("#incident-runbooks").screenshot(path=str(SCREENSHOTS / "runbook-checklist-war-room.png"))
        finally:
            browser.close()
    assert [s.title for s in runbook.steps.order_by("order")] == [
        "Check the latency dashboard", "Scale up the gateway", "Restart the gateway", "Wait for the rollout"]
    assert runbook.steps.get(order=3).parameters == {"name": "api-gateway"}
