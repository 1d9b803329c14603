"""Managers import and export subscribers as CSV, in the UI and the REST API."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from incidents.models import (
    MessageTemplate,
    Notification,
    NotificationDelivery,
    StatusSubscriber,
    SubscriberMessage,
    Visibility,
)
from incidents.notify import subscriber_io, subscribers
from portal.errors import ValidationFailed
from portal.models import OrgRole
from portal.tests.factories import ServiceFactory, UserFactory


@pytest.fixture
def world(db: Any, monkeypatch: Any) -> dict[str, Any]:
    from incidents.notify import tasks

    monkeypatch.setattr(tasks.deliver_batch, "delay", lambda ids: None)
    monkeypatch.setattr(tasks.deliver, "apply_async", lambda args, countdown=None: None)
    return {
        "api": ServiceFactory(slug="api", name="Public API"),
        "web": ServiceFactory(slug="web", name="Website"),
        "vault": ServiceFactory(slug="vault", name="Vault", visibility=Visibility.INTERNAL),
        "manager": UserFactory(username="boss", role=OrgRole.MANAGER),
        "responder": UserFactory(username="resp", role=OrgRole.RESPONDER),
    }


GOOD = (
    "email,components,confirmed\n"
    "Ann@Example.com,api;web,yes\n"
    "bob@example.com,,no\n"
    "ann@example.com,api,no\n"  # a repeat (addresses compare lower-cased)
    "old@example.com,,yes\n"  # unsubscribed before: not subscribed again
    "cur@example.com,web,yes\n"  # already subscribed: left as it is
    "\n"
)


def test_an_import_confirms_what_was_confirmed_elsewhere_invites_the_rest_and_skips_repeats(world, django_capture_on_commit_callbacks) -> None:
    old = subscribers.subscriber_create(kind="email", address="old@example.com")
    subscribers.subscriber_unsubscribe(token=old.token)
    current = subscribers.subscriber_create(kind="webhook", address="https://hooks.example.com/x")
    cur = StatusSubscriber.objects.create(kind="email", address="cur@example.com", token="t-cur")
    NotificationDelivery.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        result = subscriber_io.subscribers_import(data=GOOD.encode(), by=world["manager"])
    assert result.as_dict() == {"confirmed": 1, "invited": 1, "already_subscribed": 1, "unsubscribed": 1, "duplicates": 1, "errors": []}
    ann = StatusSubscriber.objects.get(address="ann@example.com")
    bob = StatusSubscriber.objects.get(address="bob@example.com")
    assert ann.is_active and sorted(ann.components.values_list("slug", flat=True)) == ["api", "web"]
    assert bob.confirmed_at is None and not bob.components.exists()
    assert not StatusSubscriber.objects.get(pk=old.pk).is_active and StatusSubscriber.objects.get(pk=cur.pk).confirmed_at is None
    # only the unconfirmed row is asked to confirm (double opt-in)
    assert list(NotificationDelivery.objects.values_list("target", "notification__kind")) == [("bob@example.com", "subscription")]
    # the export lists email subscribers still subscribed, in the import's columns
    assert subscriber_io.export_csv() == (
        "email,components,confirmed\nann@example.com,api;web,yes\nbob@example.com,,no\ncur@example.com,,no\n")
    assert current.address not in subscriber_io.export_csv()


@pytest.mark.parametrize(("text", "error"), [
    ("address\nann@example.com\n", "The first line must name the columns"),
    ("email,phone\nann@example.com,1\n", "Unknown columns: phone"),
    ("email,components,confirmed\nann@example.com,api,yes\nnot-an-address,,no\n", "Row 3: 'not-an-address' is not an email address."),
    ("email,components,confirmed\nann@example.com,vault,yes\n", "Row 2: no public component vault."),
    ("email,components,confirmed\nann@example.com,nope;api,yes\n", "Row 2: no public component nope."),
    ("email,confirmed\nann@example.com,perhaps\n", "Row 2: confirmed must be yes or no, not 'perhaps'."),
    ("email\nann@example.com,extra\n", "Row 2: more values than columns."),
])
def test_a_wrong_row_is_named_and_nothing_is_imported(world, text: str, error: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        subscriber_io.subscribers_import(data=text.encode(), by=world["manager"])
    assert error in " ".join(caught.value.fields.get("rows", [])) + caught.value.message
    assert not StatusSubscriber.objects.exists() and not Notification.objects.exists()


def test_the_api_imports_and_exports_for_managers_only(world, django_capture_on_commit_callbacks) -> None:
    api = APIClient()
    api.force_authenticate(world["responder"])
    assert api.get("/api/v1/status-subscribers/export/").status_code == 403
    assert api.post("/api/v1/status-subscribers/import/", "email\na@example.com\n", content_type="text/csv").status_code == 403
    api.force_authenticate(world["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/v1/status-subscribers/import/", "email,confirmed\na@example.com,yes\nb@example.com,no\n",
                          content_type="text/csv")
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"confirmed": 1, "invited": 1, "already_subscribed": 0, "unsubscribed": 0, "duplicates": 0, "errors": []}
    upload = SimpleUploadedFile("list.csv", b"email,confirmed\nc@example.com,yes\nbad,no\n", content_type="text/csv")
    wrong = api.post("/api/v1/status-subscribers/import/", {"file": upload}, format="multipart")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["fields"]["rows"] == ["Row 3: 'bad' is not an email address."]
    assert not StatusSubscriber.objects.filter(address="c@example.com").exists()
    export = api.get("/api/v1/status-subscribers/export/")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert export.content.decode() == "email,components,confirmed\na@example.com,,yes\nb@example.com,,no\n"
    listed = api.get("/api/v1/status-subscribers/").json()
    assert sorted((r["address"], r["confirmed"]) for r in listed["results"]) == [("a@example.com", True), ("b@example.com", False)]


def test_the_subscribers_page_imports_exports_and_chooses_the_messages(world, django_capture_on_commit_callbacks) -> None:
    browser = Client()
    browser.force_login(world["responder"])
    assert browser.get("/oncall/subscribers/").status_code == 403
    browser.force_login(world["manager"])
    page = browser.get("/oncall/subscribers/")
    assert page.status_code == 200 and b"Built-in wording" in page.content
    upload = SimpleUploadedFile("list.csv", b"email,components,confirmed\nz@example.com,api,yes\nwrong,,yes\n")
    refused = browser.post("/oncall/subscribers/", {"form": "import", "file": upload})
    assert refused.status_code == 400 and b"Row 3: &#x27;wrong&#x27; is not an email address." in refused.content
    upload = SimpleUploadedFile("list.csv", b"email,components,confirmed\nz@example.com,api,yes\n")
    with django_capture_on_commit_callbacks(execute=True):
        done = browser.post("/oncall/subscribers/", {"form": "import", "file": upload})
    assert done.status_code == 200 and b"Imported: 1 confirmed, 0 asked to confirm" in done.content and b"z@example.com" in done.content
    assert browser.get("/oncall/subscribers/export.csv").content == b"email,components,confirmed\nz@example.com,api,yes\n"
    template = MessageTemplate.objects.create(kind="update", name="Short update", body="{title}: {update}")
    chosen = browser.post("/oncall/subscribers/", {"form": "messages", "update": template.pk})
    assert chosen.status_code == 302
    assert list(SubscriberMessage.objects.values_list("kind", "template__name")) == [("update", "Short update")]
    assert b"Short update" in browser.get("/oncall/subscribers/").content
