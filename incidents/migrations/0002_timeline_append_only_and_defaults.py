"""Append-only timeline enforced by PostgreSQL, and the default severity scheme,
message templates and postmortem template."""

from __future__ import annotations

from datetime import timedelta

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION incidents_timeline_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'timeline events are append-only: DELETE refused';
    END IF;
    IF (NEW.incident_id, NEW.kind, NEW.author_id, NEW.occurred_at, NEW.created_at, NEW.body, NEW.details)
       IS DISTINCT FROM
       (OLD.incident_id, OLD.kind, OLD.author_id, OLD.occurred_at, OLD.created_at, OLD.body, OLD.details) THEN
        RAISE EXCEPTION 'timeline events are append-only: only pinned may change';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_timeline_append_only
    BEFORE UPDATE OR DELETE ON incidents_timelineevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timeline_append_only();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS incidents_timeline_append_only ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timeline_append_only();
"""

SEVERITIES = [
    ("SEV1", 1, "#b42318", "Critical: a core service is down or data is at risk for many customers.", timedelta(minutes=15), True),
    ("SEV2", 2, "#dc6803", "Major: a core feature is degraded or down for some customers.", timedelta(minutes=30), True),
    ("SEV3", 3, "#ca8504", "Minor: limited impact, a workaround exists.", timedelta(hours=2), False),
    ("SEV4", 4, "#475467", "Low: cosmetic or internal-only impact.", timedelta(hours=24), False),
]

TEMPLATES = [
    ("initial", "Investigating", "investigating",
     "We are investigating reports of problems with {services}. We will post an update as soon as we know more."),
    ("update", "Identified", "identified", "We have identified the cause of the problems with {services} and are working on a fix."),
    ("update", "Monitoring", "monitoring", "A fix has been applied and we are monitoring {services} closely."),
    ("resolution", "Resolved", "resolved", "This incident has been resolved. Everything is working normally again for {services}."),
    ("maintenance_notice", "Maintenance scheduled", "",
     "We will be performing scheduled maintenance on {services}. Short interruptions are possible."),
    ("maintenance_start", "Maintenance started", "", "Scheduled maintenance on {services} is in progress."),
    ("maintenance_completion", "Maintenance completed", "", "Scheduled maintenance on {services} has been completed."),
]


def run_sql_on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


def defaults(apps, schema_editor):  # type: ignore[no-untyped-def]
    from incidents.services.postmortems import DEFAULT_SECTIONS

    Severity = apps.get_model("incidents", "Severity")
    MessageTemplate = apps.get_model("incidents", "MessageTemplate")
    PostmortemTemplate = apps.get_model("incidents", "PostmortemTemplate")
    if not Severity.objects.exists():
        for name, rank, colour, description, target, pages in SEVERITIES:
            Severity.objects.create(
                name=name, rank=rank, colour=colour, description=description, response_target=target, pages=pages
            )
    for kind, name, status, body in TEMPLATES:
        MessageTemplate.objects.get_or_create(name=name, defaults={"kind": kind, "status": status, "body": body})
    PostmortemTemplate.objects.get_or_create(name="Standard", defaults={"is_default": True, "sections": DEFAULT_SECTIONS})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [
        migrations.RunPython(run_sql_on_postgresql(TRIGGER_SQL), run_sql_on_postgresql(REVERSE_SQL)),
        migrations.RunPython(defaults, migrations.RunPython.noop),
    ]
