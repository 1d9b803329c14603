"""Who is on call when: rotations in a schedule's time zone, restrictions, overrides.

All arithmetic on daily and weekly rotations is done on local wall-clock times and
converted with zoneinfo, so a 09:00 handoff is at 09:00 on both sides of a DST change
(and the shift that spans the change is an hour shorter or longer). Custom rotations
count elapsed hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from incidents.models import LayerMember, Rotation, Schedule, ScheduleLayer, ScheduleOverride


@dataclass(frozen=True)
class Shift:
    user_id: int
    start: datetime
    end: datetime
    layer: str = ""  # the layer's name, or "override"


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _aware(local: datetime, tz: ZoneInfo) -> datetime:
    # fold=0: an ambiguous local time is its first occurrence; a time in the spring
    # gap maps to the instant the clocks jumped past it.
    return local.replace(tzinfo=tz).astimezone(UTC)


class LayerRotation:
    """The handoffs of one layer, as a function of the handoff number k."""

    def __init__(self, layer: ScheduleLayer, tz: ZoneInfo, members: list[int]) -> None:
        self.layer = layer
        self.tz = tz
        self.members = members
        self.start = layer.rotation_start.astimezone(UTC)
        self.start_local = _local(layer.rotation_start, tz)
        if layer.rotation == Rotation.CUSTOM:
            self.period = timedelta(hours=layer.shift_hours or 24)
        else:
            self.period = timedelta(days=7 if layer.rotation == Rotation.WEEKLY else 1)

    def handoff(self, k: int) -> datetime:
        if self.layer.rotation == Rotation.CUSTOM:
            return self.start + k * self.period
        return _aware(self.start_local + k * self.period, self.tz)

    def index_at(self, moment: datetime) -> int:
        """The k of the shift running at `moment` (may be negative before the start)."""
        k = int((moment - self.start) // self.period)
        while self.handoff(k) > moment:
            k -= 1
        while self.handoff(k + 1) <= moment:
            k += 1
        return k

    def shifts(self, start: datetime, end: datetime) -> Iterator[Shift]:
        if not self.members:
            return
        first = max(start, self.start)
        last = min(end, self.layer.ends_at) if self.layer.ends_at else end
        if first >= last:
            return
        k = self.index_at(first)
        while True:
            s, e = self.handoff(k), self.handoff(k + 1)
            if s >= last:
                return
            user = self.members[k % len(self.members)]
            yield from self._restricted(user, max(s, first), min(e, last))
            k += 1

    def _restricted(self, user: int, start: datetime, end: datetime) -> Iterator[Shift]:
        layer = self.layer
        if layer.restrict_start is None or layer.restrict_end is None:
            yield Shift(user, start, end, layer.name)
            return
        weekdays = set(layer.restrict_weekdays or range(1, 8))
        day = _local(start, self.tz).date() - timedelta(days=1)  # an overnight window may start the day before
        last_day = _local(end, self.tz).date()
        while day <= last_day:
            if day.isoweekday() in weekdays:
                w_start, w_end = _window(day, layer.restrict_start, layer.restrict_end, self.tz)
                s, e = max(start, w_start), min(end, w_end)
                if s < e:
                    yield Shift(user, s, e, layer.name)
            day += timedelta(days=1)


def _window(day: date, start: time, end: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The restriction window that opens on `day` (overnight when end <= start)."""
    end_day = day if end > start else day + timedelta(days=1)
    return _aware(datetime.combine(day, start), tz), _aware(datetime.combine(end_day, end), tz)


def _rotations(schedule: Schedule) -> list[LayerRotation]:
    tz = ZoneInfo(schedule.time_zone)
    layers = list(schedule.layers.all())
    members: dict[int, list[int]] = {layer.pk: [] for layer in layers}
    for m in LayerMember.objects.filter(layer__in=layers).order_by("layer", "position").values("layer_id", "user_id"):
        members[m["layer_id"]].append(m["user_id"])
    # highest priority first: the first layer with someone on call wins
    layers.sort(key=lambda layer: (-layer.priority, layer.pk))
    return [LayerRotation(layer, tz, members[layer.pk]) for layer in layers]


def _overrides(schedule: Schedule, start: datetime, end: datetime) -> list[ScheduleOverride]:
    return list(
        ScheduleOverride.objects.filter(schedule=schedule, starts_at__lt=end, ends_at__gt=start).order_by("-created_at", "-id")
    )


def _who(moment: datetime, overrides: list[ScheduleOverride], layer_shifts: list[list[Shift]]) -> tuple[int, str] | None:
    for o in overrides:  # newest first
        if o.starts_at <= moment < o.ends_at:
            return o.user_id, "override"
    for shifts in layer_shifts:  # highest priority first
        for s in shifts:
            if s.start <= moment < s.end:
                return s.user_id, s.layer
    return None


def final_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The schedule as it will be lived: layers stacked, restrictions applied,
    overrides on top, adjacent shifts of one person merged."""
    layer_shifts = [list(r.shifts(start, end)) for r in _rotations(schedule)]
    overrides = _overrides(schedule, start, end)
    points = {start, end}
    for shifts in layer_shifts:
        for s in shifts:
            points.update((s.start, s.end))
    for o in overrides:
        points.update((o.starts_at, o.ends_at))
    edges = sorted(p for p in points if start <= p <= end)
    out: list[Shift] = []
    for begin, finish in zip(edges, edges[1:], strict=False):
        who = _who(begin, overrides, layer_shifts)
        if who is None:
            continue
        if out and out[-1].user_id == who[0] and out[-1].end == begin and out[-1].layer == who[1]:
            out[-1] = Shift(who[0], out[-1].start, finish, who[1])
        else:
            out.append(Shift(who[0], begin, finish, who[1]))
    return out


def on_call_at(schedule: Schedule, moment: datetime) -> int | None:
    """The user id on call at `moment`, or None when no one is."""
    shifts = final_shifts(schedule, moment, moment + timedelta(seconds=1))
    return shifts[0].user_id if shifts else None


def on_call_users(schedules: Iterable[Schedule], moment: datetime) -> dict[int, int | None]:
    return {schedule.pk: on_call_at(schedule, moment) for schedule in schedules}
