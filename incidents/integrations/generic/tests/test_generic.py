from __future__ import annotations

import pytest

from incidents.integrations.tests.helpers import bearer, fixture, make, post_json, process_pending
from incidents.models import Alert, Incident, IncidentStatus, IntegrationKind

pytestmark = pytest.mark.django_db


def test_generic_json_opens_and_resolves(client) -> None:
    integration, token = make(IntegrationKind.GENERIC_JSON)
    assert post_json(client, f"/integrations/generic/{token}/", fixture("generic", "firing.json")).status_code == 202
    assert post_json(client, "/integrations/generic/", fixture("generic", "resolved.json"), **bearer(token)).status_code == 202
    process_pending()
    assert Incident.objects.get().status == IncidentStatus.RESOLVED
    assert Alert.objects.get().labels == {"team": "payments", "queue": "orders"}


def test_generic_single_object_and_errors(client) -> None:
    integration, token = make(IntegrationKind.GENERIC_JSON)
    url = f"/integrations/generic/{token}/"
    assert post_json(client, url, {"fingerprint": "a", "title": "A is down"}).status_code == 202
    response = post_json(client, url, {"title": "no fingerprint", "status": "maybe"})
    assert response.status_code == 400
    assert {"body.fingerprint is required (a string).", "body.status must be 'firing' or 'resolved'."} <= set(
        response.json()["error"]["fields"]["payload"]
    )
