"""People through the API: managers create, change, deactivate and invite."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from portal.models import OrgRole, role_of
from portal.tests.factories import TeamFactory
from portal.tests.support import present

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_a_manager_creates_and_invites_a_person_who_then_signs_in(api, cast, client, django_capture_on_commit_callbacks, settings) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from portal.celery import app

    app.conf.task_always_eager = True
    try:
        TeamFactory.create(slug="payments")
        with django_capture_on_commit_callbacks(execute=True):
            response = api.as_(cast.owner).post("/api/v1/users/", {"username": "ada", "email": "ada@example.com", "first_name": "Ada",
                                                                   "role": "responder", "teams": ["payments"], "invite": True}, format="json")  # fmt: skip
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 201, response.json()
    assert response.json() | {"id": 0} == {"id": 0, "username": "ada", "name": "Ada", "role": "responder", "teams": ["payments"],
                                           "email": "ada@example.com", "is_active": True}  # fmt: skip
    user = User.objects.get(username="ada")
    assert not user.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    link = present(re.search(r"https?://\S+", str(mail.outbox[0].body))).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get("/" + path)
    assert form.status_code == 200 and "Choose a password for the account <strong>ada</strong>" in form.content.decode()
    done = client.post("/" + path, {"new_password1": "a-long-pass-phrase-42", "new_password2": "a-long-pass-phrase-42"})
    assert done.status_code == 302
    # The link works once.
    assert client.get("/" + path).status_code == 410
    # Through the sign-in page, as a person would (sign-in goes through the lock-out check).
    client.logout()
    signed_in = client.post("/accounts/login/", {"username": "ada", "password": "a-long-pass-phrase-42"})
    assert signed_in.status_code == 302 and client.get("/").status_code == 200


def test_role_teams_and_deactivation(api, cast) -> None:
    TeamFactory.create(slug="sre")
    manager = api.as_(cast.owner)
    response = manager.patch(f"/api/v1/users/{cast.viewer.pk}/", {"role": "manager", "teams": ["sre"]}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "manager" and response.json()["teams"] == ["sre"]
    cast.viewer.refresh_from_db()
    assert role_of(User.objects.get(pk=cast.viewer.pk)) == OrgRole.MANAGER
    assert manager.post(f"/api/v1/users/{cast.responder.pk}/deactivate/").json()["is_active"] is False
    assert cast.responder.username not in [u["username"] for u in manager.get("/api/v1/users/").json()["results"]]
    assert cast.responder.username in [u["username"] for u in manager.get("/api/v1/users/?active=all").json()["results"]]
    assert manager.patch(f"/api/v1/users/{cast.responder.pk}/", {"is_active": True}, format="json").json()["is_active"] is True


def test_bad_input_and_the_role_matrix(api, cast) -> None:
    manager = api.as_(cast.owner)
    for body, field in [({"username": "x", "teams": ["nope"]}, "teams"), ({"username": "x", "role": "god"}, "role"),
                        ({"username": "x", "invite": True}, "email"), ({"username": "bad name"}, "username")]:  # fmt: skip
        response = manager.post("/api/v1/users/", body, format="json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"], response.json()
    assert manager.post("/api/v1/users/", {"username": "owner"}, format="json").status_code == 409
    assert manager.post(f"/api/v1/users/{cast.owner.pk}/deactivate/").status_code == 409  # not yourself
    User.objects.filter(pk=cast.responder.pk).update(email="")
    assert manager.post(f"/api/v1/users/{cast.responder.pk}/invite/").status_code == 400  # no email
    for user in (cast.responder, cast.viewer):
        client = api.as_(user)
        assert client.get("/api/v1/users/").status_code == 200
        assert client.post("/api/v1/users/", {"username": "y"}, format="json").status_code == 403
        assert client.patch(f"/api/v1/users/{cast.viewer.pk}/", {"role": "manager"}, format="json").status_code == 403
        assert client.post(f"/api/v1/users/{cast.viewer.pk}/deactivate/").status_code == 403
    assert not User.objects.filter(username__in=["x", "y"]).exists()
