"""Severity mappings refer to severities by primary key instead of by name, so that
renaming or re-ranking severities no longer changes where alerts land.

A name that matches no severity is dropped from the mapping (its alerts then open
at the integration's default, or at the most severe level); before this, such a
name silently sent them to the least severe one.
"""

from __future__ import annotations

from django.db import migrations


def _convert(mapping, lookup):
    if not isinstance(mapping, dict) or not mapping:
        return mapping
    out = {key: value for key, value in mapping.items() if key not in ("map", "default")}
    table = {}
    for value, ref in (mapping.get("map") or {}).items() if isinstance(mapping.get("map"), dict) else ():
        converted = lookup(ref)
        if converted is not None:
            table[value] = converted
    out["map"] = table
    if mapping.get("default") not in (None, ""):
        converted = lookup(mapping["default"])
        if converted is not None:
            out["default"] = converted
    return out


def names_to_keys(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    Integration = apps.get_model("incidents", "Integration")
    by_name = {name: pk for pk, name in Severity.objects.values_list("pk", "name")}
    by_lower = {name.lower(): pk for name, pk in by_name.items()}
    pks = set(by_name.values())

    def lookup(ref):
        if isinstance(ref, int) and not isinstance(ref, bool):
            return ref if ref in pks else None
        if isinstance(ref, str):
            return by_name.get(ref.strip()) or by_lower.get(ref.strip().lower())
        return None

    for integration in Integration.objects.all():
        converted = _convert(integration.severity_mapping, lookup)
        if converted != integration.severity_mapping:
            Integration.objects.filter(pk=integration.pk).update(severity_mapping=converted)


def keys_to_names(apps, schema_editor):
    Severity = apps.get_model("incidents", "Severity")
    Integration = apps.get_model("incidents", "Integration")
    names = dict(Severity.objects.values_list("pk", "name"))

    def lookup(ref):
        return names.get(ref) if isinstance(ref, int) else ref

    for integration in Integration.objects.all():
        converted = _convert(integration.severity_mapping, lookup)
        if converted != integration.severity_mapping:
            Integration.objects.filter(pk=integration.pk).update(severity_mapping=converted)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_alerts")]

    operations = [migrations.RunPython(names_to_keys, keys_to_names)]
