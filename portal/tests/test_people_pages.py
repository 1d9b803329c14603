"""People pages for managers, and the invitation link: signed, expiring, single use."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone

from portal.invitations import make_token
from portal.models import OrgRole, role_of
from portal.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "a-long-pass-phrase-42"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def eager(settings: Any) -> Any:
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _link() -> str:
    found = re.search(r"https?://\S+", str(mail.outbox[-1].body))
    assert found is not None
    return "/" + found.group(0).split("://", 1)[1].split("/", 1)[1]


def test_a_manager_adds_a_person_who_accepts_the_invitation_once(cast: Any, client: Client, eager: Any,
                                                                  django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    TeamFactory(slug="payments", name="Payments")
    manager = client_for(cast.owner)
    page = manager.get("/people/").content.decode()
    assert "responder" in page and 'name="username"' in page and "People</a>" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post("/people/", {"username": "ada", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                             "role": "responder", "teams": ["payments"], "invite": "on"})  # fmt: skip
    assert response.status_code == 302
    ada = User.objects.get(username="ada")
    assert role_of(ada) == OrgRole.RESPONDER and list(ada.teams.values_list("slug", flat=True)) == ["payments"]
    assert not ada.has_usable_password() and [m.to for m in mail.outbox] == [["ada@example.com"]]
    link = _link()
    assert "works once" in mail.outbox[0].body
    form = client.get(link)
    assert form.status_code == 200 and "Welcome, Ada Lovelace" in form.content.decode()
    mismatch = client.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD + "x"})
    assert mismatch.status_code == 400 and not User.objects.get(username="ada").has_usable_password()
    assert client.post(link, {"new_password1": PASSWORD, "new_password2": PASSWORD}).status_code == 302
    # Reusing the link is refused, in the browser and for a second post.
    reused = client.get(link)
    assert reused.status_code == 410 and "already used" in reused.content.decode()
    assert client.post(link, {"new_password1": "another-pass-phrase-7", "new_password2": "another-pass-phrase-7"}).status_code == 410
    assert client.post("/accounts/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    assert client.get("/").status_code == 200


def test_an_invitation_expires_and_a_tampered_one_is_refused(cast: Any, client: Client, settings: Any) -> None:
    settings.INVITATION_MAX_AGE_DAYS = 7
    person = User.objects.create_user(username="bo", email="bo@example.com")
    person.set_unusable_password()
    person.save()
    token = make_token(person)
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        expired = client.get(f"/accounts/invitation/{token}/")
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    assert client.get(f"/accounts/invitation/{token[:-2]}xx/").status_code == 400
    assert client.get(f"/accounts/invitation/{token}/").status_code == 200
    person.is_active = False
    person.save()
    assert client.get(f"/accounts/invitation/{token}/").status_code == 410  # a deactivated account is not invited


def test_a_manager_changes_role_and_teams_deactivates_and_invites_again(cast: Any, eager: Any,
                                                                        django_capture_on_commit_callbacks: Any) -> None:  # fmt: skip
    TeamFactory(slug="sre", name="SRE")
    manager = client_for(cast.owner)
    url = f"/people/{cast.viewer.pk}/"
    assert manager.get(url).status_code == 200
    saved = manager.post(url, {"first_name": "Vic", "last_name": "Viewer", "email": "vic@example.com", "role": "responder", "teams": ["sre"]})
    assert saved.status_code == 302
    viewer = User.objects.get(pk=cast.viewer.pk)
    assert role_of(viewer) == OrgRole.RESPONDER and viewer.email == "vic@example.com"
    assert list(viewer.teams.values_list("slug", flat=True)) == ["sre"]
    User.objects.filter(pk=viewer.pk).update(password="!unusable")
    with django_capture_on_commit_callbacks(execute=True):
        outcome = manager.post(f"/people/{viewer.pk}/invite/", HTTP_HX_REQUEST="true")
    assert outcome.status_code == 200 and "Invitation sent to vic@example.com" in outcome.content.decode()
    assert mail.outbox[-1].to == ["vic@example.com"]
    assert manager.post(f"/people/{viewer.pk}/active/", {"active": "0"}).status_code == 302
    assert not User.objects.get(pk=viewer.pk).is_active
    assert "Vic Viewer" not in manager.get("/people/").content.decode()
    assert "Vic Viewer" in manager.get("/people/?show=all").content.decode()
    # The organisation keeps a manager: one cannot demote or deactivate oneself.
    own = manager.post(f"/people/{cast.owner.pk}/", {"role": "viewer", "teams": []})
    assert own.status_code == 400 and "cannot demote or deactivate your own account" in own.content.decode()
    manager.post(f"/people/{cast.owner.pk}/active/", {"active": "0"})
    assert User.objects.get(pk=cast.owner.pk).is_active


def test_bad_input_is_shown_on_the_form(cast: Any) -> None:
    manager = client_for(cast.owner)
    taken = manager.post("/people/", {"username": "responder", "role": "viewer"})
    assert taken.status_code == 400 and "is taken" in taken.content.decode()
    no_email = manager.post("/people/", {"username": "cy", "role": "viewer", "invite": "on"})
    assert no_email.status_code == 400 and "Required to invite" in no_email.content.decode()
    assert not User.objects.filter(username="cy").exists()


def test_people_pages_are_for_managers_only(cast: Any) -> None:
    for user in (cast.responder, cast.viewer):
        client = client_for(user)
        assert client.get("/people/").status_code == 403
        assert client.post("/people/", {"username": "x", "role": "manager"}).status_code == 403
        assert client.get(f"/people/{cast.viewer.pk}/").status_code == 403
        assert client.post(f"/people/{cast.viewer.pk}/", {"role": "manager"}).status_code == 403
        assert client.post(f"/people/{cast.responder.pk}/active/", {"active": "0"}).status_code == 403
        assert client.post(f"/people/{cast.responder.pk}/invite/").status_code == 403
        assert 'href="/people/"' not in client.get("/").content.decode()
    assert not User.objects.filter(username="x").exists() and role_of(User.objects.get(pk=cast.viewer.pk)) == OrgRole.VIEWER
    assert User.objects.get(pk=cast.responder.pk).is_active
    assert Client().get("/people/").status_code == 302  # to the sign-in page
