"""The integration page's routing editor: rows of fields saved as the API's JSON,
errors shown in place with nothing lost, and a dry run on a sample payload."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from incidents.integrations.tests.helpers import make
from incidents.models import Alert, Delivery, Incident, IntegrationKind, Severity

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(rules: list[dict[str, Any]], mapping: list[tuple[str, str]], field: str = "", default: str = "", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"rule-TOTAL_FORMS": str(len(rules)), "rule-INITIAL_FORMS": "0",
                            "map-TOTAL_FORMS": str(len(mapping)), "map-INITIAL_FORMS": "0",
                            "mapping-field": field, "mapping-default": default}  # fmt: skip
    for i, rule in enumerate(rules):
        for key, value in rule.items():
            data[f"rule-{i}-{key}"] = value
    for i, (value, severity) in enumerate(mapping):
        data[f"map-{i}-value"], data[f"map-{i}-severity"] = value, severity
    data.update(extra)
    return data


def sev(name: str) -> str:
    return str(Severity.objects.get(name=name).pk)


def _shown_value(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return found.group(1).replace("&quot;", '"')


def test_the_rows_are_saved_as_rules_and_a_mapping(cast: Any) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER)
    client = signed_in(cast.owner)
    data = rows(
        [{"field": "labels.team", "value": "payments", "services": ["api"], "impact": "major_outage", "action": ""},
         {"field": "", "value": "", "impact": "partial_outage"}],  # a blank row is ignored
        [("critical", sev("SEV1")), ("warning", sev("SEV3"))], default=sev("SEV2"),
    )  # fmt: skip
    response = client.post(f"/integrations/{integration.pk}/routing/", data)
    assert response.status_code == 302 and response["Location"].endswith("#routing")
    integration.refresh_from_db()
    assert integration.routing_rules == [{"match": {"labels.team": "payments"}, "services": ["api"], "impact": "major_outage"}]
    assert integration.severity_mapping == {"map": {"critical": int(sev("SEV1")), "warning": int(sev("SEV3"))}, "default": int(sev("SEV2"))}
    page = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert 'value="payments"' in page and 'value="critical"' in page


def test_errors_are_shown_on_their_row_and_nothing_typed_is_lost(cast: Any) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER, routing_rules=[{"match": {"labels.team": "x"}, "services": []}])
    client = signed_in(cast.owner)
    data = rows([{"field": "labels.team", "value": "~(unclosed", "impact": "major_outage"},
                 {"field": "", "value": "orphan", "impact": "major_outage"}],
                [("critical", "")])  # fmt: skip
    response = client.post(f"/integrations/{integration.pk}/routing/", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Not a valid regular expression" in page and "Name the field to compare" in page
    assert "Choose the severity for this value." in page
    assert 'value="~(unclosed"' in page and 'value="orphan"' in page and 'value="critical"' in page
    integration.refresh_from_db()
    assert integration.routing_rules == [{"match": {"labels.team": "x"}, "services": []}]


def test_a_rule_with_several_conditions_survives_a_save(cast: Any) -> None:
    rule: dict[str, Any] = {"match": {"labels.team": "payments", "labels.env": "prod"}, "services": ["api"], "impact": "degraded_performance"}
    integration, _ = make(IntegrationKind.ALERTMANAGER, routing_rules=[rule])
    client = signed_in(cast.owner)
    page = client.get(f"/integrations/{integration.pk}/").content.decode()
    # Post back what the page holds (which condition comes first is the database's key order).
    shown = {name: _shown_value(page, f"rule-0-{name}") for name in ("field", "value", "more")}
    assert json.loads(shown["more"]) == {k: v for k, v in rule["match"].items() if k != shown["field"]}
    data = rows([{**shown, "services": ["api"], "impact": "degraded_performance"}], [])
    assert client.post(f"/integrations/{integration.pk}/routing/", data).status_code == 302
    integration.refresh_from_db()
    assert integration.routing_rules == [rule]


def test_the_dry_run_shows_what_a_sample_would_do_and_stores_nothing(cast: Any) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER)
    client = signed_in(cast.owner)
    page = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert "PortalSample" in page  # the sample payload is there to edit
    sample = {"version": "4", "status": "firing", "receiver": "portal", "groupKey": "{}:{}", "groupLabels": {},
              "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am.invalid", "truncatedAlerts": 0,
              "alerts": [{"status": "firing", "labels": {"alertname": "Down", "team": "payments", "severity": "critical"},
                          "annotations": {"summary": "Payments down"}, "startsAt": "2026-01-01T00:00:00Z",
                          "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "abc"}]}  # fmt: skip
    data = rows([{"field": "labels.team", "value": "~pay.*", "services": ["api"], "impact": "major_outage"}],
                [("critical", sev("SEV2"))], sample=json.dumps(sample))  # fmt: skip
    response = client.post(f"/integrations/{integration.pk}/routing/test/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    result = response.content.decode()
    assert "<html" not in result and "Public API" in result and "Major outage" in result
    assert re.search(r'data-field="severity"><strong>SEV2</strong>', result)
    assert not Alert.objects.exists() and not Incident.objects.exists() and not Delivery.objects.exists()
    integration.refresh_from_db()
    assert integration.routing_rules == []  # tried, not saved
    bad = client.post(f"/integrations/{integration.pk}/routing/test/", {**data, "sample": "{nope"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()
    wrong = client.post(f"/integrations/{integration.pk}/routing/test/", {**data, "sample": '{"alerts": 3}'}, HTTP_HX_REQUEST="true")
    assert wrong.status_code == 400 and "not a valid" in wrong.content.decode()
    # Without JavaScript the whole page comes back, rows and results in place.
    page = client.post(f"/integrations/{integration.pk}/routing/test/", data).content.decode()
    assert "<html" in page and 'value="~pay.*"' in page and "<strong>SEV2</strong>" in page


def test_viewers_and_responders_cannot_use_the_editor(cast: Any) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER)
    for user in (cast.viewer, cast.responder):
        assert signed_in(user).post(f"/integrations/{integration.pk}/routing/", rows([], [])).status_code == 403
        assert signed_in(user).post(f"/integrations/{integration.pk}/routing/test/", rows([], [])).status_code == 403


def test_integration_pages_read_well_and_carry_no_inline_script(cast: Any) -> None:
    integration, _ = make(IntegrationKind.ALERTMANAGER)
    client = signed_in(cast.owner)
    listing = client.get("/integrations/").content.decode()
    detail = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert "/integrations/alertmanager/&lt;secret&gt;/" in detail and "%3C" not in detail
    for page in (listing, detail):
        assert not re.search(r"<label[^>]*>[^<]*:\s*<", page), "labels without colons"
        assert not re.search(r"\son[a-z]+=", page) and "hx-on" not in page
        assert all(not body.strip() for body in re.findall(r"<script[^>]*>(.*?)</script>", page, re.S))
    assert 'routing_rules' not in listing and "For PagerDuty v3 webhooks" in listing
