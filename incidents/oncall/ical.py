"""iCalendar (RFC 5545) export of on-call shifts.

Written by hand rather than with a library: a feed of timed events in UTC needs
only the escaping of text (3.3.11), line folding at 75 octets (3.1), CRLF line
ends and a stable UID per shift, which is less code than adapting a library's
object model, and it adds no dependency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from incidents.oncall.schedules import Shift

PRODID = "-//Incident Portal//On-call//EN"


def escape_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line into chunks of at most 75 octets, never splitting a UTF-8 character."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = b""
    limit = 75
    for ch in line:
        b = ch.encode()
        if len(current) + len(b) > limit:
            parts.append(current.decode())
            current = b""
            limit = 74  # continuation lines start with a space
        current += b
    parts.append(current.decode())
    return "\r\n ".join(parts)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(
    *, name: str, shifts: Iterable[Shift], people: Mapping[int, str], schedule_names: Mapping[int, str] | None = None,
    uid_prefix: str, now: datetime,
) -> str:
    """`shifts` may carry a schedule id in place of a layer name for a person's feed:
    pass `schedule_names` to title those events by schedule."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}"]
    for shift in shifts:
        who = people.get(shift.user_id, f"user {shift.user_id}")
        title = f"On call: {who}"
        if schedule_names is not None:
            title = f"On call: {schedule_names.get(int(shift.layer), '')}"
        uid = hashlib.sha256(f"{uid_prefix}:{shift.user_id}:{shift.start.isoformat()}".encode()).hexdigest()[:32]
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@incident-portal",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(shift.start)}",
            f"DTEND:{_stamp(shift.end)}",
            f"SUMMARY:{escape_text(title)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
