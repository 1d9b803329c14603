"""Configuration as code: documents modelled on real teams applied, re-applied,
exported and diffed; invalid documents refused whole with every error by path."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from incidents.integrations.tests.helpers import ensure_severities, post_json
from incidents.models import Integration, MessageTemplate, Service, Severity
from portal.config import runner
from portal.models import ApiToken, Team, TokenScope

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
AM_TOKEN = "a" * 32
PD_KEY = "0123456789abcdef0123456789ABCDEF"


@pytest.fixture(autouse=True)
def secrets(monkeypatch) -> None:
    ensure_severities()
    monkeypatch.setenv("TEST_AM_TOKEN", AM_TOKEN)
    monkeypatch.setenv("TEST_PD_KEY", PD_KEY)
    monkeypatch.setenv("TEST_V3_TOKEN", "v3-token-for-the-url-0000")
    monkeypatch.setenv("TEST_V3_SIGNING", "signing-secret")


def apply(name_or_text: str, **options) -> str:
    out = io.StringIO()
    path = FIXTURES / name_or_text
    call_command("portal_apply", str(path), stdout=out, **options)
    return out.getvalue()


def test_the_kubernetes_team_applies_reapplies_and_round_trips(client) -> None:
    plan = apply("kubernetes.yaml", dry_run=True)
    assert "+ services checkout" in plan and "Plan (dry run, nothing changed)" in plan
    assert not Service.objects.exists() and not Integration.objects.exists()
    first = apply("kubernetes.yaml")
    assert "Applied: 20 to create, 4 to update, 0 to delete." in first, first
    assert Service.objects.count() == 9
    assert sorted(Service.objects.get(slug="api").depends_on.values_list("slug", flat=True)) == ["ingress", "postgres", "redis"]
    assert Severity.objects.get(name="SEV1").response_target.total_seconds() == 15 * 60
    # Applying the same file again changes nothing.
    assert apply("kubernetes.yaml").strip().endswith("Applied: 0 to create, 0 to update, 0 to delete.")
    # Export, then apply the export: a no-op, and the export is stable.
    exported = io.StringIO()
    call_command("portal_export", stdout=exported)
    result = runner.run(runner.load(exported.getvalue()), dry_run=False, prune=True)
    assert result.changes == []
    again = io.StringIO()
    call_command("portal_export", stdout=again)
    assert again.getvalue() == exported.getvalue()
    # The secret came from the environment and works; it is not in the export.
    assert AM_TOKEN not in exported.getvalue()
    response = post_json(client, f"/integrations/alertmanager/{AM_TOKEN}/", {"bad": "payload"})
    assert response.status_code == 400  # authenticated, then refused for its payload


def test_a_changed_field_is_planned_field_by_field(tmp_path) -> None:
    apply("kubernetes.yaml")
    document = yaml.safe_load((FIXTURES / "kubernetes.yaml").read_text())
    document["services"][0]["name"] = "Ingress (nginx)"
    document["integrations"][0]["severity_mapping"]["map"]["warning"] = "SEV2"
    result = runner.run(document, dry_run=True)
    assert [(c.section, c.key, c.action, c.fields) for c in result.changes] == [
        ("services", "ingress", "update", {"name": {"from": "Ingress", "to": "Ingress (nginx)"}}),
        ("integrations", "prometheus", "update", {"severity_mapping": {
            "from": {"field": "labels.severity", "map": {"critical": "SEV1", "warning": "SEV3", "info": "SEV4"}, "default": "SEV2"},
            "to": {"field": "labels.severity", "map": {"critical": "SEV1", "warning": "SEV2", "info": "SEV4"}, "default": "SEV2"}}}),
    ]  # fmt: skip
    assert Service.objects.get(slug="ingress").name == "Ingress"  # a dry run


def test_the_p1_p4_team_replaces_sev1_sev4_with_prune(monkeypatch) -> None:
    with pytest.raises(CommandError) as refused:
        apply("p1_p4.yaml")
    assert "severities: SEV1 (not in the document) holds rank 1" in str(refused.value)
    assert set(Severity.objects.values_list("name", flat=True)) == {"SEV1", "SEV2", "SEV3", "SEV4"}  # nothing applied
    out = apply("p1_p4.yaml", prune=True)
    assert "- severities SEV1" in out
    assert list(Severity.objects.order_by("rank").values_list("name", flat=True)) == ["P1", "P2", "P3", "P4"]
    integration = Integration.objects.get(name="legacy-pagerduty")
    assert integration.matches_token(PD_KEY)
    assert "0 to create, 0 to update, 0 to delete" in apply("p1_p4.yaml", prune=True)
    # Rotating the secret in the environment is a planned change, never showing the value.
    monkeypatch.setenv("TEST_PD_KEY", "f" * 32)
    out = apply("p1_p4.yaml", prune=True)
    assert "secret: null -> \"set from TEST_PD_KEY\"" in out and "f" * 32 not in out
    integration.refresh_from_db()
    assert integration.matches_token("f" * 32)


def test_the_p0_p3_team_with_a_v3_webhook() -> None:
    out = apply("p0_p3.yaml", prune=True)
    assert "Applied" in out
    integration = Integration.objects.get(name="pagerduty-webhook")
    assert integration.signing_secret == "signing-secret"
    assert Team.objects.filter(slug="sre").exists()
    assert "0 to create, 0 to update, 0 to delete" in apply("p0_p3.yaml", prune=True)


def test_an_invalid_document_is_refused_whole_with_every_error_by_path(monkeypatch) -> None:
    monkeypatch.delenv("TEST_PD_KEY")
    document = {
        "version": 1,
        "services": [{"slug": "a", "name": "A", "group": "nowhere"}, {"slug": "b", "name": "B", "depends_on": ["zzz"]}],
        "message_templates": [{"name": "t", "kind": "update", "body": "{titel}"}],
        "integrations": [
            {"name": "ok", "kind": "alertmanager", "secret_env": "TEST_AM_TOKEN"},
            {"name": "x", "kind": "alertmanager"},
            {"name": "y", "kind": "pagerduty_events_v2", "secret_env": "TEST_PD_KEY"},
            {"name": "z", "kind": "alertmanager", "secret_env": "TEST_AM_TOKEN", "severity_mapping": {"map": {"critical": "SEV9"}}},
        ],
    }
    with pytest.raises(runner.DocumentInvalid) as refused:
        runner.run(document, dry_run=False)
    errors = refused.value.errors
    assert "services[0].group: no service group 'nowhere'" in errors
    assert "services[1].depends_on: no service 'zzz'" in errors
    assert any(e.startswith("message_templates[0].body: Unknown placeholders: {titel}") for e in errors)
    assert any(e.startswith("integrations[1].secret_env: required to create") for e in errors)
    assert "integrations[2].secret_env: the environment variable TEST_PD_KEY is not set" in errors
    assert any(e.startswith("integrations[3].severity_mapping: 'critical' maps to 'SEV9'") for e in errors)
    assert not Service.objects.exists() and not Integration.objects.exists() and not MessageTemplate.objects.filter(name="t").exists()


def test_structure_errors_are_listed_by_path() -> None:
    document = {"version": 2, "services": [{"slug": "bad slug", "name": "x", "colour": 1}, {"name": "no slug"}], "nonsense": []}
    with pytest.raises(runner.DocumentInvalid) as refused:
        runner.run(document, dry_run=True)
    text = "\n".join(refused.value.errors)
    for expected in ["(document): Additional properties are not allowed ('nonsense' was unexpected)", "version: 1 was expected",
                     "services[0].slug: 'bad slug' does not match", "services[0]: Additional properties are not allowed",
                     "services[1]: 'slug' is a required property"]:  # fmt: skip
        assert expected in text, text
    with pytest.raises(runner.DocumentInvalid) as refused:
        runner.run({"teams": [{"slug": "a", "name": "A"}, {"slug": "a", "name": "B"}]}, dry_run=True)
    assert refused.value.errors == ["teams[1].slug: 'a' is also teams[0]"]
    with pytest.raises(runner.DocumentInvalid):
        runner.load("a: [unclosed")


def test_the_api_plans_by_default_applies_on_request_and_is_for_managers(api, cast) -> None:
    document = yaml.safe_load((FIXTURES / "p0_p3.yaml").read_text())
    manager = api.as_(cast.owner)
    plan = manager.post("/api/v1/config/apply", {"document": document, "prune": True}, format="json")
    assert plan.status_code == 200, plan.json()
    assert plan.json()["applied"] is False and plan.json()["summary"]["create"] > 0
    assert not Team.objects.filter(slug="sre").exists()
    text = (FIXTURES / "p0_p3.yaml").read_text()
    applied = manager.post("/api/v1/config/apply", {"yaml": text, "dry_run": False, "prune": True}, format="json")
    assert applied.json()["applied"] is True and Team.objects.filter(slug="sre").exists()
    exported = manager.get("/api/v1/config/").json()
    assert manager.post("/api/v1/config/apply", {"document": exported, "dry_run": False, "prune": True},
                        format="json").json()["summary"] == {"create": 0, "update": 0, "delete": 0}  # fmt: skip
    bad = manager.post("/api/v1/config/apply", {"document": {"services": [{"slug": "x"}]}}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["document"] == ["services[0]: 'name' is a required property"]
    for user in (cast.responder, cast.viewer):
        assert api.as_(user).get("/api/v1/config/").status_code == 403
        assert api.as_(user).post("/api/v1/config/apply", {"document": {}}, format="json").status_code == 403
    _, raw = ApiToken.issue(user=cast.owner, name="ro", scope=TokenScope.READ)
    from rest_framework.test import APIClient

    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert reader.get("/api/v1/config/").status_code == 200
    assert reader.post("/api/v1/config/apply", {"document": {}}, format="json").status_code == 403


def test_the_json_schema_is_published_and_validates_the_fixtures(client) -> None:
    import jsonschema

    response = client.get("/api/v1/config/schema.json")
    assert response.status_code == 200
    schema = response.json()
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in FIXTURES.glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    assert set(schema["properties"]) == {"version", "severities", "teams", "people", "service_groups", "services", "message_templates",
                                         "postmortem_templates", "maintenance", "integrations"}  # fmt: skip


def test_applying_writes_through_the_catalogue_services_and_a_dry_run_publishes_nothing(
    django_capture_on_commit_callbacks,
) -> None:
    from incidents import events

    seen: list[events.DomainEvent] = []
    events.subscribe(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            apply("kubernetes.yaml", dry_run=True)
        assert seen == []
        with django_capture_on_commit_callbacks(execute=True):
            apply("kubernetes.yaml")
    finally:
        events.unsubscribe(seen.append)
    kinds = [e.kind for e in seen]
    assert kinds.count("catalog.service_created") == 9
    assert "catalog.service_group_created" in kinds and "catalog.severity_updated" in kinds
    # The dependencies are set through the service too, one update per service that has them.
    with_dependencies = Service.objects.filter(depends_on__isnull=False).distinct().count()
    updates = [e for e in seen if e.kind == "catalog.service_updated"]
    assert len(updates) == with_dependencies and all(e.data["fields"] == "depends_on" for e in updates)
    # Public services and severities refresh the status page.
    assert any(e.public for e in seen if e.kind == "catalog.service_created")
