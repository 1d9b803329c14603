from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from portal.models import ApiToken, has_role

pytestmark = pytest.mark.django_db


def _issue(*args: str) -> str:
    out = StringIO()
    call_command("issue_api_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_it_creates_the_user_sets_the_role_and_prints_a_working_write_token() -> None:
    raw = _issue("--username", "ci-bot", "--role", "responder", "--scope", "write", "--name", "smoke")
    user = get_user_model().objects.get(username="ci-bot")
    assert not user.has_usable_password() and has_role(user, "responder") and not has_role(user, "manager")
    token = ApiToken.objects.get(user=user)
    assert token.scope == "write" and token.name == "smoke" and raw not in token.secret_hash

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/incidents/").status_code == 200
    created = client.post("/api/v1/incidents/", {"title": "From the command line", "severity": "SEV3"}, format="json")
    assert created.status_code == 201, created.content


def test_a_read_token_for_an_existing_user_keeps_their_role_and_refuses_writes(cast) -> None:
    raw = _issue("--username", cast.owner.username)
    assert has_role(get_user_model().objects.get(pk=cast.owner.pk), "manager")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    refused = client.post("/api/v1/incidents/", {"title": "Nope", "severity": "SEV3"}, format="json")
    assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]


def test_it_refuses_an_inactive_user_and_a_bad_role(cast) -> None:
    with pytest.raises(CommandError, match="inactive"):
        _issue("--username", cast.outsider.username)
    with pytest.raises(CommandError):
        _issue("--username", "someone", "--role", "admiral")
    assert not ApiToken.objects.filter(user__username__in=[cast.outsider.username, "someone"]).exists()
