"""Message templates: the placeholders a public message can hold, the check made
when a template is saved, and filling one in for an incident or a maintenance.

A placeholder is `{name}` with a lower-case name; any other brace (JSON, code
samples) is left as written. Unknown names are refused when a template is saved,
so that a typo is found by the person writing the template, not by the public.
Times are written in the time zone asked for (the portal's TIME_ZONE by default)
and name it: "2024-05-01 12:00 CEST".
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from portal.errors import ValidationFailed

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")

INCIDENT_PLACEHOLDERS = {
    "title": "the incident's title",
    "severity": "its severity, e.g. SEV1",
    "status": "its status (or the template's), e.g. identified",
    "services": "the public services it affects, e.g. Public API, Checkout",
    "started_at": "when it started, with the time zone",
    "duration": "how long it has lasted so far, e.g. 1 h 25 min",
    "next_update": "when the next update will come (given when posting)",
    "eta": "the expected resolution (given when posting)",
    "incident_url": "the incident's public page",
    "status_page_url": "the status page",
    "update": "the public update's text (messages to status page subscribers)",
}
MAINTENANCE_PLACEHOLDERS = {
    "title": "the maintenance's title",
    "services": "the services it affects",
    "window": "start and end, with the time zone, e.g. 2024-05-07 02:00-04:00 UTC",
    "window_start": "its start, with the time zone",
    "window_end": "its end, with the time zone",
    "duration": "its planned length, e.g. 2 h",
    "impact": "its description of the impact",
    "status_page_url": "the status page",
}
# Values only the person posting knows: they come with the request.
GIVEN_WHEN_POSTING = ("next_update", "eta")


def placeholders_for(kind: str) -> dict[str, str]:
    return MAINTENANCE_PLACEHOLDERS if kind.startswith("maintenance") else INCIDENT_PLACEHOLDERS


def used(body: str) -> list[str]:
    return sorted(set(PLACEHOLDER.findall(body or "")))


def check_body(body: str, kind: str) -> None:
    """Refuse a template body naming a placeholder this kind of message has not."""
    allowed = placeholders_for(kind)
    unknown = [name for name in used(body) if name not in allowed]
    if unknown:
        names = ", ".join("{" + n + "}" for n in unknown)
        raise ValidationFailed(
            f"Unknown placeholders: {names}.",
            fields={"body": [f"Unknown placeholders: {names}. Use {', '.join('{' + n + '}' for n in allowed)}."]},
        )


def zone(name: str | None) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("Unknown time zone.", fields={"timezone": [f"{name!r} is not an IANA time zone, such as Europe/Paris."]}) from None


def when(moment: datetime, tz: tzinfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def span(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes or not (days or hours))
    return " ".join(parts)


def _public(path: str) -> str:
    return f"{settings.PUBLIC_URL}{path}"


def incident_values(incident: Any, *, status: str, tz: tzinfo, now: datetime | None = None) -> dict[str, str]:
    from incidents.models import IncidentStatus

    now = now or timezone.now()
    end = incident.resolved_at or now
    names = ", ".join(i.service.name for i in incident.impacts.select_related("service") if i.service.is_public) or "our services"
    return {
        "title": incident.title,
        "severity": incident.severity.name,
        "status": str(IncidentStatus(status).label).lower() if status in IncidentStatus.values else status,
        "services": names,
        "started_at": when(incident.started_at, tz),
        "duration": span(end - incident.started_at),
        "incident_url": _public(reverse("public:incident", args=[incident.pk])),
        "status_page_url": _public(reverse("public:status")),
    }


def maintenance_values(window: Any, *, tz: tzinfo) -> dict[str, str]:
    start, end = window.scheduled_start.astimezone(tz), window.scheduled_end.astimezone(tz)
    same_day = start.date() == end.date() and start.tzname() == end.tzname()
    shown = f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} {end.tzname()}" if same_day else f"{when(start, tz)} - {when(end, tz)}"
    return {
        "title": window.title,
        "services": ", ".join(s.name for s in window.services.all() if s.is_public) or "our services",
        "window": shown,
        "window_start": when(start, tz),
        "window_end": when(end, tz),
        "duration": span(window.scheduled_end - window.scheduled_start),
        "impact": window.description or "Some services may be briefly unavailable.",
        "status_page_url": _public(reverse("public:status")),
    }


def fill(body: str, values: Mapping[str, str], *, kind: str, keep_missing: bool = False) -> str:
    """The body with its placeholders replaced; a placeholder whose value is not
    known (next update, ETA not given) is a field error naming it, or, for a draft
    a person will edit (`keep_missing`), is left in place."""
    if keep_missing:
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), body)
    check_body(body, kind)
    missing = [name for name in used(body) if name not in values]
    if missing:
        raise ValidationFailed(
            "The template needs values that were not given.",
            fields={"values": [f"Give {', '.join(missing)} (e.g. \"values\": {{\"{missing[0]}\": \"in 30 minutes\"}})."]},
        )
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def given_value(value: str, tz: tzinfo) -> str:
    """A value given when posting: an RFC 3339 time is written in the time zone."""
    from django.utils.dateparse import parse_datetime

    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        return when(moment, tz)
    return value


def incident_update_from_template(
    *, incident: Any, template: Any, body: str | None, status: str | None, values: Mapping[str, str], timezone_name: str | None
) -> tuple[str, str | None]:
    """The body and status of a public update posted from a template: the template's
    body and status unless overridden, its placeholders filled from the incident,
    with `values` (next update, ETA, or any other) taking precedence."""
    tz = zone(timezone_name)
    status = status or template.status or None
    filled = incident_values(incident, status=status or incident.status, tz=tz)
    filled.update({name: given_value(value, tz) for name, value in values.items()})
    return fill(body if body is not None else template.body, filled, kind=template.kind), status
