"""The configuration document's `maintenance` section: recurring maintenance (an
RFC 5545 rule) and one-off windows, named by title.

- An item with `rrule` is a recurring maintenance; its next occurrences become
  windows as for any recurrence. Changing it replaces the windows that have not
  started; those that started or happened stay.
- An item without is a one-off window. Completed windows are history, not
  configuration: the export leaves them out, and prune never removes them, nor a
  window under way. A document that still names a completed window with the
  same values changes nothing.
- `impact` is the text readers see about the window (its description, the
  `{impact}` of message templates).
Writes go through the maintenance services."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from incidents.models import MaintenanceRecurrence, MaintenanceStatus, MaintenanceWindow, Service, Visibility
from incidents.services import maintenance as window_services
from incidents.services import recurrence as recurrence_services
from portal.config.sections import ItemError
from portal.errors import ValidationFailed
from portal.text import clean_text

SLUG = {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$", "maxLength": 50}
MAX_TEXT = 20000
_DOCUMENT_FIELDS = {"rule": "rrule", "first_start": "start", "scheduled_start": "start", "scheduled_end": "duration_minutes",
                    "duration": "duration_minutes", "description": "impact"}  # fmt: skip


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed("Unknown time zone.", fields={"timezone": [f"{name!r} is not an IANA time zone"]}) from None


def _start(text: str, zone: zoneinfo.ZoneInfo) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("Bad start.", fields={"start": [f"{text!r} is not an ISO 8601 date and time"]}) from None
    return start.replace(tzinfo=zone) if start.tzinfo is None else start


def _minutes(duration: timedelta) -> int:
    return int(duration.total_seconds() // 60)


class Maintenance:
    name = "maintenance"
    key = "title"
    item_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "services", "start", "duration_minutes"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "services": {"type": "array", "items": SLUG, "minItems": 1, "uniqueItems": True, "description": "Services' slugs."},
            "start": {"type": "string", "minLength": 10, "maxLength": 40,
                      "description": "ISO 8601; the first occurrence of a recurring maintenance. Without an offset, in `timezone`."},
            "duration_minutes": {"type": "integer", "minimum": 1, "maximum": 7 * 24 * 60},
            "rrule": {"type": "string", "minLength": 1, "maxLength": 500,
                      "description": "An RFC 5545 rule (FREQ=WEEKLY;BYDAY=TU) makes it recurring; at most daily."},
            "timezone": {"type": "string", "minLength": 1, "maxLength": 64,
                         "description": "IANA time zone: the rule keeps its local time of day across daylight saving. Default UTC."},
            "impact": {"type": "string", "maxLength": MAX_TEXT, "description": "What readers are told to expect."},
            "visibility": {"enum": list(Visibility.values)},
        },
    }  # fmt: skip

    def __init__(self) -> None:
        self._started: set[str] = set()

    # -- reading ------------------------------------------------------------------------

    @staticmethod
    def _recurrence_row(r: MaintenanceRecurrence) -> dict[str, Any]:
        zone = _zone(r.timezone)
        return {"title": r.title, "services": sorted(s.slug for s in r.services.all()),
                "start": r.first_start.astimezone(zone).isoformat(), "duration_minutes": _minutes(r.duration),
                "rrule": r.rule, "timezone": r.timezone, "impact": r.description, "visibility": r.visibility}  # fmt: skip

    @staticmethod
    def _window_row(w: MaintenanceWindow) -> dict[str, Any]:
        return {"title": w.title, "services": sorted(s.slug for s in w.services.all()),
                "start": w.scheduled_start.astimezone(UTC).isoformat(),
                "duration_minutes": _minutes(w.scheduled_end - w.scheduled_start), "impact": w.description,
                "visibility": w.visibility}  # fmt: skip

    def _one_off(self) -> Any:
        return MaintenanceWindow.objects.filter(recurrence__isnull=True).prefetch_related("services").order_by("scheduled_start", "pk")

    def export(self) -> list[dict[str, Any]]:
        recurring = [self._recurrence_row(r) for r in MaintenanceRecurrence.objects.prefetch_related("services").order_by("title", "pk")]
        windows = list(self._one_off().exclude(status=MaintenanceStatus.COMPLETED))
        self._started = {w.title for w in windows if w.status != MaintenanceStatus.SCHEDULED}
        return recurring + [self._window_row(w) for w in windows]

    def known(self) -> list[dict[str, Any]]:
        rows = self.export()
        titles = {row["title"] for row in rows}
        for window in self._one_off().filter(status=MaintenanceStatus.COMPLETED).order_by("-scheduled_start"):
            if window.title not in titles:
                titles.add(window.title)
                rows.append(self._window_row(window))
        return rows

    def prunable(self, row: dict[str, Any]) -> bool:
        return "rrule" in row or row["title"] not in self._started

    def normalise(self, item: dict[str, Any]) -> dict[str, Any]:
        zone_name = item.get("timezone", "UTC")
        zone = _zone(zone_name)
        start = _start(item["start"], zone)
        data: dict[str, Any] = {"title": clean_text(item["title"], max_length=200), "services": sorted(item["services"])}
        if item.get("rrule"):
            data |= {"start": start.astimezone(zone).isoformat(), "duration_minutes": item["duration_minutes"],
                     "rrule": item["rrule"].strip().removeprefix("RRULE:"), "timezone": zone_name}  # fmt: skip
        else:
            data |= {"start": start.astimezone(UTC).isoformat(), "duration_minutes": item["duration_minutes"]}
        data |= {"impact": clean_text(item.get("impact", ""), max_length=MAX_TEXT, multiline=True),
                 "visibility": item.get("visibility", Visibility.PUBLIC)}  # fmt: skip
        return data

    # -- writing ------------------------------------------------------------------------

    def write(self, item: dict[str, Any], *, by: Any) -> None:
        try:
            self._write(item, by=by)
        except ValidationFailed as exc:
            # The services name their own fields; errors are listed by the document's.
            fields = {_DOCUMENT_FIELDS.get(name, name): messages for name, messages in exc.fields.items()}
            raise ValidationFailed(exc.message, fields=fields) from None

    def _write(self, item: dict[str, Any], *, by: Any) -> None:
        data = self.normalise(item)
        services = list(Service.objects.filter(slug__in=data["services"]))
        unknown = sorted(set(data["services"]) - {s.slug for s in services})
        if unknown:
            raise ItemError(f"no service {unknown[0]!r}", "services")
        start = datetime.fromisoformat(data["start"])
        duration = timedelta(minutes=data["duration_minutes"])
        recurrence = MaintenanceRecurrence.objects.filter(title=data["title"]).first()
        window = self._one_off().filter(title=data["title"]).exclude(status=MaintenanceStatus.COMPLETED).first()
        if "rrule" in data:
            if window is not None:
                window_services.maintenance_cancel_scheduled(window=window, by=by)
            fields = {"title": data["title"], "description": data["impact"], "rule": data["rrule"], "first_start": start,
                      "timezone_name": data["timezone"], "duration": duration, "services": services,
                      "visibility": data["visibility"]}  # fmt: skip
            if recurrence is None:
                recurrence_services.maintenance_recurrence_create(by=by, **fields)
            else:
                recurrence_services.maintenance_recurrence_update(recurrence=recurrence, by=by, **fields)
            return
        if recurrence is not None:
            recurrence_services.maintenance_recurrence_delete(recurrence=recurrence, by=by)
        fields = {"title": data["title"], "description": data["impact"], "scheduled_start": start,
                  "scheduled_end": start + duration, "services": services, "visibility": data["visibility"]}  # fmt: skip
        if window is None:
            window_services.maintenance_schedule(by=by, **fields)
        else:
            window_services.maintenance_update(window=window, by=by, **fields)

    def delete(self, key: str, *, by: Any) -> None:
        recurrence = MaintenanceRecurrence.objects.filter(title=key).first()
        if recurrence is not None:
            recurrence_services.maintenance_recurrence_delete(recurrence=recurrence, by=by)
        for window in self._one_off().filter(title=key, status=MaintenanceStatus.SCHEDULED):
            window_services.maintenance_cancel_scheduled(window=window, by=by)


MAINTENANCE = Maintenance()
