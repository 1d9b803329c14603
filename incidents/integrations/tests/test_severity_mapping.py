"""Severity mappings survive renames and re-ranking, refuse names of no severity,
and an unmapped value opens at the integration's default or the most severe level,
never the least, with the reason on the timeline."""

from __future__ import annotations

import importlib
import re

import pytest
from django.apps import apps
from django.test import Client

from incidents.integrations import services
from incidents.integrations.tests.helpers import fixture_json, make, post_json, process_pending
from incidents.models import Incident, Integration, IntegrationKind, Severity, TimelineEvent
from portal.errors import ValidationFailed

AM = IntegrationKind.ALERTMANAGER
pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fire(client, token: str, severity: str | None) -> Incident:
    payload = fixture_json("alertmanager", "firing.json")
    for alert in payload["alerts"]:
        if severity is None:
            alert["labels"].pop("severity")
        else:
            alert["labels"]["severity"] = severity
    assert post_json(client, f"/integrations/alertmanager/{token}/", payload).status_code == 202
    assert process_pending() == ["processed"]
    return Incident.objects.select_related("severity").get()


def fallback_notes(incident: Incident) -> list[str]:
    return [e.body for e in TimelineEvent.objects.filter(incident=incident, kind="alert") if e.details.get("fallback")]


def rename_all_to_p(cast) -> None:
    manager = signed_in(cast.owner)
    for severity in Severity.objects.all():
        response = manager.patch(f"/api/v1/severities/{severity.pk}/", {"name": severity.name.replace("SEV", "P")},
                                 content_type="application/json")  # fmt: skip
        assert response.status_code == 200


def test_a_critical_alert_still_opens_at_the_top_after_severities_are_renamed(client, cast) -> None:
    _integration, token = make(AM, severity_mapping={"field": "labels.severity", "map": {"critical": "SEV1", "warning": "SEV3"}})
    rename_all_to_p(cast)
    incident = fire(client, token, "critical")
    assert incident.severity.name == "P1"
    assert fallback_notes(incident) == []


def test_the_conventional_values_follow_the_rank_order_whatever_the_names(client, cast) -> None:
    _integration, token = make(AM)
    rename_all_to_p(cast)
    assert fire(client, token, "critical").severity.name == "P1"


def test_a_mapping_survives_re_ranking(client, cast) -> None:
    integration, token = make(AM, severity_mapping={"map": {"critical": "SEV2"}})
    # A new most severe level above all others: the mapped row keeps its identity.
    for severity in Severity.objects.order_by("-rank"):
        Severity.objects.filter(pk=severity.pk).update(rank=severity.rank + 1)
    Severity.objects.create(name="SEV0", rank=1)
    assert fire(client, token, "critical").severity.name == "SEV2"
    page = signed_in(cast.owner).get(f"/integrations/{integration.pk}/").content.decode()
    # The editor's row: the value, and the same severity selected by its new position.
    row = page.split('name="map-0-value"')[1].split("</li>")[0]
    assert 'value="critical"' in row and re.search(r'<option value="\d+" selected>SEV2</option>', row)


def test_a_mapping_that_names_no_severity_is_refused_with_a_clear_error(cast) -> None:
    with pytest.raises(ValidationFailed) as refused:
        make(AM, severity_mapping={"map": {"critical": "SEV9", "warning": "SEV3"}, "default": "P2"})
    errors = " ".join(refused.value.fields["severity_mapping"])
    assert "'critical' maps to 'SEV9', which is no severity" in errors and "default 'P2'" in errors
    integration, _ = make(AM)
    with pytest.raises(ValidationFailed):
        services.integration_update(integration=integration, by=cast.owner, severity_mapping={"map": {"critical": 987654}})
    response = signed_in(cast.owner).post("/integrations/", {
        "kind": "alertmanager", "name": "x", "rate_limit_per_minute": 1, "default_action": "declare", "resolve_policy": "resolve",
        "reopen_minutes": 0, "routing_rules": "", "severity_mapping": '{"map": {"critical": "SEV9"}}', "group_by": "",
    })  # fmt: skip
    assert response.status_code == 400
    assert "which is no severity" in response.content.decode()


def test_names_are_stored_as_keys(cast) -> None:
    integration, _ = make(AM, severity_mapping={"field": "labels.sev", "map": {"critical": "sev1", "page": 2}, "default": "SEV3"})
    ids = dict(Severity.objects.values_list("name", "pk"))
    assert integration.severity_mapping == {"field": "labels.sev", "map": {"critical": ids["SEV1"], "page": 2}, "default": ids["SEV3"]}


def test_an_unmapped_value_opens_at_the_most_severe_level_and_the_timeline_says_why(client) -> None:
    _integration, token = make(AM, severity_mapping={"map": {"critical": "SEV2"}})
    incident = fire(client, token, "disaster")
    assert incident.severity.name == "SEV1"
    [note] = fallback_notes(incident)
    assert "'disaster' is not in the integration's severity mapping" in note and "most severe" in note


def test_an_alert_without_the_field_opens_at_the_most_severe_level(client) -> None:
    _integration, token = make(AM)
    incident = fire(client, token, None)
    assert incident.severity.name == "SEV1"
    [note] = fallback_notes(incident)
    assert "no labels.severity" in note


def test_an_unmapped_value_opens_at_the_integration_default_when_it_has_one(client) -> None:
    _integration, token = make(AM, severity_mapping={"map": {"critical": "SEV1"}, "default": "SEV2"})
    incident = fire(client, token, "disaster")
    assert incident.severity.name == "SEV2"
    [note] = fallback_notes(incident)
    assert "SEV2, the integration's default" in note


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("seeded_transactional_db")
def test_a_severity_used_by_a_mapping_cannot_be_deleted(cast) -> None:
    integration, _ = make(AM, name="Prod Alertmanager", severity_mapping={"map": {"critical": "SEV1"}, "default": "SEV4"})
    manager = signed_in(cast.owner)
    for name in ("SEV1", "SEV4"):
        severity = Severity.objects.get(name=name)
        response = manager.delete(f"/api/v1/severities/{severity.pk}/")
        assert response.status_code == 409
        assert "Prod Alertmanager" in response.json()["error"]["message"]
        assert Severity.objects.filter(pk=severity.pk).exists()
    # The admin says so too, instead of failing.
    severity = Severity.objects.get(name="SEV1")
    cast.owner.is_staff = cast.owner.is_superuser = True
    cast.owner.save()
    page = signed_in(cast.owner).get(f"/admin/incidents/severity/{severity.pk}/delete/")
    assert page.status_code == 200 and "Prod Alertmanager" in page.content.decode()
    # An unused severity still goes.
    assert manager.delete(f"/api/v1/severities/{Severity.objects.get(name='SEV3').pk}/").status_code == 204
    assert Integration.objects.get(pk=integration.pk).severity_mapping["default"] == Severity.objects.get(name="SEV4").pk


def test_the_data_migration_turns_names_into_keys_and_drops_names_of_no_severity() -> None:
    make(AM)  # severities exist
    integration = Integration.objects.create(kind=AM, name="old", token_hash="x" * 64,
                                             severity_mapping={"field": "labels.severity", "map": {"critical": "SEV1", "info": "GONE",
                                                               "warning": "sev3"}, "default": "SEV2"})  # fmt: skip
    migration = importlib.import_module("incidents.migrations.0004_severity_mapping_by_key")
    migration.names_to_keys(apps, None)
    ids = dict(Severity.objects.values_list("name", "pk"))
    integration.refresh_from_db()
    assert integration.severity_mapping == {"field": "labels.severity", "map": {"critical": ids["SEV1"], "warning": ids["SEV3"]},
                                            "default": ids["SEV2"]}  # fmt: skip
    migration.keys_to_names(apps, None)
    integration.refresh_from_db()
    assert integration.severity_mapping["map"] == {"critical": "SEV1", "warning": "SEV3"}


def test_pagerduty_priorities_and_urgencies_follow_the_rank_order_without_a_mapping() -> None:
    from incidents.integrations.severities import severity_for

    integration, _ = make(IntegrationKind.PAGERDUTY_WEBHOOK_V3, signing_secret="s")
    Severity.objects.filter(name="SEV3").update(name="Minor")
    assert [severity_for(integration, value).severity.name for value in ("P1", "P3", "P5", "high", "low")] == [
        "SEV1", "Minor", "SEV4", "SEV2", "SEV4"
    ]  # fmt: skip
    unknown = severity_for(integration, "P9")
    assert unknown.severity.name == "SEV1" and "'P9'" in unknown.why


def test_an_integration_can_still_be_disabled_when_its_mapping_names_a_vanished_severity(cast) -> None:
    integration, _ = make(AM, severity_mapping={"map": {"critical": "SEV1"}})
    Integration.objects.filter(pk=integration.pk).update(severity_mapping={"map": {"critical": 987654}})
    updated = services.integration_update(integration=integration, by=cast.owner, enabled=False)
    assert updated.enabled is False and updated.severity_mapping == {"map": {"critical": 987654}}
