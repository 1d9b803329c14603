"""A reader subscribes on the status page in real headless Chromium, confirms from the
email, receives a public update, and unsubscribes with the link in it."""

from __future__ import annotations

import os

import pytest
from django.db import connections
from django.test import override_settings

from incidents.models import NotificationDelivery, StatusSubscriber, Visibility
from incidents.notify import services, subscribers
from incidents.notify.tests.receivers import smtp_server
from incidents.notify.tests.test_subscribers import found
from incidents.services import incident_post_update
from portal.tests.factories import ServiceFactory, declare

CHROMIUM = "/usr/bin/chromium"

if not os.path.exists(CHROMIUM) and not os.environ.get("REQUIRE_BROWSER"):
    pytestmark = [pytest.mark.skip(reason=f"{CHROMIUM} is missing; set REQUIRE_BROWSER=1 to fail instead")]
else:
    pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("seeded_transactional_db")]


def deliver_everything() -> None:
    """What the notify workers do: fan out public notifications and send every pending row."""
    from incidents.models import Notification

    for pk in Notification.objects.filter(kind="public").values_list("pk", flat=True):
        subscribers.fan_out(pk)
    services.deliveries_attempt_batch(list(NotificationDelivery.objects.filter(state="pending").values_list("pk", flat=True)))


def test_subscribe_confirm_receive_an_update_and_unsubscribe_in_a_browser(live_asgi, monkeypatch) -> None:
    from playwright.sync_api import sync_playwright

    from incidents.notify import tasks

    # Playwright's sync API runs an event loop in this thread; the database work between
    # browser steps is still plain synchronous code in this one thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr(tasks.fan_out, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: None)
    monkeypatch.setattr(tasks.deliver_batch, "delay", lambda ids: None)
    api = ServiceFactory(slug="api", name="Public API")
    ServiceFactory(slug="web", name="Website")
    with smtp_server() as (port, box), override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port,
        EMAIL_USE_TLS=False, EMAIL_USE_SSL=False, PUBLIC_URL=live_asgi.url,
    ), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(live_asgi.url + "/status/subscribe/")
        page.check("input[name=kind][value=email]")
        page.fill("input[name=address]", "reader@example.com")
        page.get_by_label("Public API").check()
        page.click("button[type=submit]")
        page.get_by_text("Check your inbox").wait_for()

        deliver_everything()
        confirm = found(r"Confirm: (\S+)", box.messages[0][2].get_content())
        page.goto(confirm)
        page.click("button[type=submit]")
        page.get_by_text("Subscription confirmed").wait_for()
        assert StatusSubscriber.objects.get().is_active

        incident = declare(title="API errors", sev="SEV3", impacts={api: "partial_outage"}, visibility=Visibility.PUBLIC)
        incident_post_update(incident=incident, body="Some calls fail; a fix is rolling out.", by=None)
        deliver_everything()
        update = box.messages[-1][2]
        assert update["Subject"] == "API errors: Investigating" and "a fix is rolling out" in update.get_content()
        page.goto(found(r"Unsubscribe: (\S+)", update.get_content()))
        page.click("button[type=submit]")
        page.get_by_text("Unsubscribed").wait_for()
        browser.close()
        assert not StatusSubscriber.objects.get().is_active
        # The database work above ran in Playwright's context, on a connection of its own:
        # close it, or PostgreSQL cannot drop the test database.
        connections.close_all()
