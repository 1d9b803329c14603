"""Deliveries can be marked as a test (a sample sent from the integrations page).

The default resolution template read "Checkout are operating normally" for one
service: reword it where it still holds the shipped text (an edited one is kept)."""

from __future__ import annotations

from django.db import migrations, models

OLD = "This incident has been resolved. {services} are operating normally."
NEW = "This incident has been resolved. Everything is working normally again for {services}."


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("incidents", "MessageTemplate").objects.filter(body=OLD).update(body=NEW)


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("incidents", "MessageTemplate").objects.filter(body=NEW).update(body=OLD)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0005_merge_text_cleaning_and_severity_keys")]
    operations = [
        migrations.AddField(model_name="delivery", name="is_test", field=models.BooleanField(default=False)),
        migrations.RunPython(forward, backward),
    ]
