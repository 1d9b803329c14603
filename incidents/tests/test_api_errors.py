"""Bad requests to the API and to the pages' filters are clean 4xx answers in the
one error shape, never a 500; unexpected failures under /api/ are JSON 500s."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
from django.test import Client

from incidents.models import Impact, Incident, Service, Severity
from portal.tests.factories import ServiceFactory, ServiceGroupFactory, TeamFactory, declare
from portal.tests.support import present

pytestmark = pytest.mark.django_db


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


# --- deleting what incidents still refer to -------------------------------------------
def test_deleting_a_severity_in_use_is_a_409_naming_the_incidents(api, cast) -> None:
    incident = declare(by=cast.responder, sev="SEV1")
    sev1 = Severity.objects.get(name="SEV1")
    error = _error(api.as_(cast.owner).delete(f"/api/v1/severities/{sev1.pk}/"), 409)
    assert error["code"] == "in_use"
    assert error["used_by"] == {"incidents": [incident.reference]} and error["count"] == 1
    assert f"Severity SEV1 is used by 1 incident ({incident.reference})" in error["message"]
    assert Severity.objects.filter(pk=sev1.pk).exists()
    unused = Severity.objects.get(name="SEV4")
    assert api.as_(cast.owner).delete(f"/api/v1/severities/{unused.pk}/").status_code == 204


def test_deleting_a_service_an_incident_names_is_a_409(api, cast) -> None:
    first = declare(by=cast.responder, impacts={cast.service: Impact.MAJOR_OUTAGE})
    second = declare(by=cast.responder, impacts={cast.service: Impact.PARTIAL_OUTAGE})
    error = _error(api.as_(cast.owner).delete("/api/v1/services/api/"), 409)
    assert error["code"] == "in_use"
    assert error["used_by"] == {"incidents": [second.reference, first.reference]} and error["count"] == 2
    assert "Service Public API is used by 2 incidents" in error["message"]
    assert Service.objects.filter(slug="api").exists()
    assert api.as_(cast.owner).delete("/api/v1/services/billing-worker/").status_code == 204


# --- times with any RFC 3339 offset ----------------------------------------------------
def test_started_after_accepts_any_rfc3339_offset_and_compares_in_utc(api, cast) -> None:
    early = declare(by=cast.responder, title="Early", started_at=datetime(2023, 12, 31, 1, 0, tzinfo=UTC))
    late = declare(by=cast.responder, title="Late", started_at=datetime(2023, 12, 31, 2, 0, tzinfo=UTC))
    # 2024-01-01T00:00+22:22 is 2023-12-31T01:38Z
    response = api.as_(cast.viewer).get("/api/v1/incidents/", {"started_after": "2024-01-01T00:00:00+22:22"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [late.pk]
    response = api.as_(cast.viewer).get("/api/v1/incidents/", {"started_before": "2023-12-31T01:38:00-00:00"})
    assert [row["id"] for row in response.json()["results"]] == [early.pk]


def test_a_time_that_leaves_the_calendar_in_utc_is_a_400(api, cast) -> None:
    response = api.as_(cast.viewer).get("/api/v1/incidents/", {"started_after": "0001-01-01T00:00:00+05:00"})
    error = _error(response, 400)
    assert error["fields"] == {"started_after": ["This time is out of range."]}


# --- lookups given characters no stored value holds ---------------------------------------
@pytest.mark.parametrize("value", ["SEV1\u0000", "\u0000", "\ud800", "SEV\x01"])
def test_a_severity_reference_with_nul_or_a_lone_surrogate_is_a_field_error(api, cast, value) -> None:
    client = api.as_(cast.responder)

    def post(url: str, body: dict) -> object:  # JSON escapes, as senders write a lone surrogate
        return client.generic("POST", url, json.dumps(body), content_type="application/json")

    error = _error(post("/api/v1/incidents/", {"title": "x", "severity": value}), 400)
    assert error["fields"] == {"severity": ["Control characters (such as NUL) and lone surrogates are not allowed."]}
    incident = declare(by=cast.responder)
    error = _error(post(f"/api/v1/incidents/{incident.reference}/severity/", {"severity": value}), 400)
    assert "severity" in error["fields"]
    assert Incident.objects.count() == 1


def test_service_user_group_team_and_dependency_lookups_refuse_nul(api, cast) -> None:
    ServiceGroupFactory.create(slug="core")
    TeamFactory.create(slug="payments")
    ServiceFactory.create(slug="db")
    incident = declare(by=cast.responder)
    responder = api.as_(cast.responder)
    error = _error(responder.post(f"/api/v1/incidents/{incident.reference}/impacts/",
                                  {"service": "api\u0000", "impact": "major_outage"}, format="json"), 400)  # fmt: skip
    assert "service" in error["fields"]
    error = _error(responder.post(f"/api/v1/incidents/{incident.reference}/roles/",
                                  {"role": "commander", "user": "responder\u0000"}, format="json"), 400)  # fmt: skip
    assert "user" in error["fields"]
    manager = api.as_(cast.owner)
    for field, value in (("group", "core\u0000"), ("team", "pay\u0000ments"), ("depends_on", ["db\u0000"])):
        error = _error(manager.patch("/api/v1/services/api/", {field: value}, format="json"), 400)
        assert field in error["fields"], field
    assert Service.objects.get(slug="api").group is None


@pytest.mark.parametrize(
    "query",
    [{"service": "api\u0000"}, {"severity": "SEV1\u0000"}, {"tag": "a\u0000"}, {"q": "\u0000"}],
)
def test_incident_list_filters_refuse_nul(api, cast, query) -> None:
    error = _error(api.as_(cast.viewer).get("/api/v1/incidents/", query), 400)
    assert error["code"] == "validation_failed"


def test_service_list_filter_and_slug_urls_refuse_nul(api, cast) -> None:
    client = api.as_(cast.viewer)
    assert _error(client.get("/api/v1/services/", {"group__slug": "core\u0000"}), 400)["code"] == "validation_failed"
    for url in ("/api/v1/services/api%00/", "/api/v1/service-groups/%00/", "/api/v1/teams/a%00/"):
        assert _error(client.get(url), 404)["code"] == "not_found"


def test_digits_that_int_refuses_are_not_numbers(api, cast) -> None:
    client = api.as_(cast.responder)
    assert _error(client.get("/api/v1/incidents/INC-\u00b2/"), 404)["code"] == "not_found"
    error = _error(client.post("/api/v1/incidents/", {"title": "x", "severity": "\u00b2"}, format="json"), 400)
    assert "severity" in error["fields"]
    assert client.get("/api/v1/incidents/", {"severity": "\u00b2"}).status_code == 200


# --- the pages' filters ------------------------------------------------------------------
def test_the_incident_list_page_refuses_bad_filters_with_a_400_page(client: Client, cast) -> None:
    declare(by=cast.responder, started_at=datetime(2023, 12, 31, 2, 0, tzinfo=UTC))
    client.force_login(cast.responder)
    for query in ({"service": "api\u0000"}, {"severity": "\u0000"}, {"started_after": "0001-01-01T00:00:00+05:00"}):
        response = client.get("/incidents/", query)
        assert response.status_code == 400, query
        assert response["Content-Type"].startswith("text/html")
    response = client.get("/incidents/", {"started_after": "2024-01-01T00:00:00+22:22"})
    assert response.status_code == 200


def test_the_alert_list_page_ignores_nul_in_its_filters(client: Client, cast) -> None:
    client.force_login(cast.responder)
    response = client.get("/integrations/alerts/", {"severity": "critical\u0000", "q": "disk\u0000full"})
    assert response.status_code == 200


# --- bodies -------------------------------------------------------------------------------
def test_a_json_body_nested_100000_deep_is_a_400(api, cast) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = api.as_(cast.responder).generic("POST", "/api/v1/incidents/", body, content_type="application/json")
    error = _error(response, 400)
    assert error == {"code": "json_too_deep", "message": "JSON parse error - The JSON is nested more than 64 levels deep."}


def test_nan_stays_refused_by_the_api(api, cast) -> None:
    response = api.as_(cast.responder).generic("POST", "/api/v1/incidents/", '{"title": NaN}', content_type="application/json")
    assert _error(response, 400)["code"] == "invalid_json"


# --- every answer under /api/ is JSON ------------------------------------------------------
@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/nothing", "/api/v2/nothing.json", "/api/v1/incidents/1/nothing/"])
def test_an_unknown_url_under_api_is_a_json_404(api, cast, url) -> None:
    error = _error(api.as_(cast.viewer).get(url), 404)
    assert error == {"code": "not_found", "message": "Not found."}


def test_an_unknown_url_elsewhere_keeps_the_html_404(client: Client, cast) -> None:
    client.force_login(cast.viewer)
    response = client.get("/nothing-here/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_an_unexpected_exception_in_an_api_view_is_a_logged_json_500(cast, monkeypatch, caplog) -> None:
    from incidents import selectors

    def broken() -> None:
        raise RuntimeError("the database went away in a new way")

    monkeypatch.setattr(selectors, "incident_list_values", broken)
    client = Client(raise_request_exception=False)
    client.force_login(cast.viewer)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/api/v1/incidents/")
    error = _error(response, 500)
    assert error["code"] == "server_error"
    assert "RuntimeError" not in response.content.decode()
    record = next(r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR)
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_an_unexpected_exception_in_a_plain_view_under_api_is_a_json_500(monkeypatch) -> None:
    from incidents.public import views

    def broken(*args, **kwargs):
        raise RuntimeError("snapshot store exploded")

    monkeypatch.setattr(views, "respond", broken)
    response = Client(raise_request_exception=False).get("/api/v2/summary.json")
    assert _error(response, 500)["code"] == "server_error"


def test_unsafe_methods_on_the_public_json_are_json_405s_on_both_paths(client: Client, world) -> None:
    from incidents.public import rebuild
    from incidents.public.http import respond

    rebuild.rebuild()
    response = client.post("/api/v2/summary.json")
    assert _error(response, 405)["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    answer = respond("/api/v2/summary.json", "POST")  # the ASGI fast path in front of Django
    assert answer is not None
    status, headers, body = answer
    assert status == 405 and (b"content-type", b"application/json") in headers
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    assert present(respond("/status/", "POST"))[2] == b""  # pages keep their plain 405


def test_any_other_protected_delete_is_a_409_naming_the_rows(cast) -> None:
    from django.db.models import ProtectedError

    from portal.api_errors import exception_handler

    incident = declare(by=cast.responder, sev="SEV2")
    with pytest.raises(ProtectedError) as raised:
        Severity.objects.get(name="SEV2").delete()
    response = exception_handler(raised.value, {})
    assert response is not None and response.status_code == 409
    error = response.data["error"]
    assert error["code"] == "in_use" and error["used_by"] == {"incidents": [str(incident)]}
