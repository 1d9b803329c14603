from __future__ import annotations

import hashlib

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from portal.models import ApiToken

pytestmark = pytest.mark.django_db


def _session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_a_token_is_shown_once_stored_hashed_used_and_revoked(cast) -> None:
    session = _session(cast.responder)
    created = session.post("/api/v1/tokens/", {"name": "ci", "scope": "write"}, format="json")
    assert created.status_code == 201
    raw = created.json()["token"]
    token = ApiToken.objects.get(pk=created.json()["id"])
    secret = raw.split("_", 2)[2]
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in token.secret_hash and not any(secret in str(v) for v in token.__dict__.values())
    listed = session.get("/api/v1/tokens/").json()
    assert "token" not in listed[0] and listed[0]["prefix"] == raw[: len(listed[0]["prefix"])]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/incidents/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at <= timezone.now()

    assert session.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    refused = client.get("/api/v1/incidents/")
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]


@pytest.mark.parametrize("header", ["Bearer ipt_nope_nope", "Bearer garbage", "Bearer", "Bearer a b", "Token ipt__x",
                                    "Bearer ipt_" + "a" * 500 + "_b"])
def test_bad_tokens_are_401_never_500(cast, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"authentication_failed", "not_authenticated"}


def test_a_token_of_an_inactive_user_is_refused(cast) -> None:
    _, raw = ApiToken.issue(user=cast.outsider, name="old", scope="write")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/incidents/").status_code == 401


def test_tokens_cannot_mint_tokens_and_viewers_get_read_only_ones(cast) -> None:
    _, raw = ApiToken.issue(user=cast.owner, name="w", scope="write")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 403
    viewer = _session(cast.viewer)
    assert viewer.post("/api/v1/tokens/", {"name": "x", "scope": "write"}, format="json").status_code == 403
    assert viewer.post("/api/v1/tokens/", {"name": "x", "scope": "read"}, format="json").status_code == 201


def test_users_see_only_their_own_tokens(cast) -> None:
    ApiToken.issue(user=cast.owner, name="owner's")
    assert _session(cast.responder).get("/api/v1/tokens/").json() == []
    other = ApiToken.objects.get(user=cast.owner)
    assert _session(cast.responder).delete(f"/api/v1/tokens/{other.pk}/").status_code == 404
