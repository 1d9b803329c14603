"""Clean control characters out of text stored before the services cleaned it.

One such character in a public incident's title or a public update stopped every
status snapshot rebuild (the Atom feed refuses it), and a public update cannot be
edited. Titles and names become single-line, bodies keep their line breaks; rows
are rewritten only when they change, so running it again changes nothing. The
timeline is append-only (a trigger on PostgreSQL) and is not public: left as is.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from portal.text import clean_text, has_forbidden_characters

# model: (single-line fields, multi-line fields)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Incident": (("title",), ("summary",)),
    "PublicUpdate": ((), ("body", "body_html")),
    "MaintenanceWindow": (("title",), ("description",)),
    "Service": (("name",), ("description",)),
    "ServiceGroup": (("name",), ("description",)),
    "ServiceLink": (("label",), ()),
    "MessageTemplate": ((), ("body",)),
    "PostmortemSection": (("title",), ("body", "prompt")),
    "ActionItem": (("title",), ()),
}
BATCH = 1000


def clean(apps: Any, schema_editor: Any) -> None:
    for name, (single, multi) in FIELDS.items():
        model = apps.get_model("incidents", name)
        fields = single + multi
        changed = []
        for row in model.objects.only("pk", *fields).iterator(chunk_size=BATCH):
            dirty = False
            for field in fields:
                value = getattr(row, field)
                if value and has_forbidden_characters(value):
                    text = clean_text(value, multiline=field in multi).strip()
                    setattr(row, field, text or ("-" if field in single else ""))
                    dirty = True
            if dirty:
                changed.append(row)
            if len(changed) >= BATCH:
                model.objects.bulk_update(changed, fields)
                changed = []
        if changed:
            model.objects.bulk_update(changed, fields)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_alerts"),
    ]

    operations = [
        migrations.RunPython(clean, migrations.RunPython.noop, elidable=True),
    ]
