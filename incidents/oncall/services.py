"""Writes of on-call configuration: overrides and swaps, contact methods, notification rules.

Schedules, layers and policies are plain configuration written through the API's
serializers (validated there); these are the verbs people use day to day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.validators import validate_email
from django.db import transaction

from incidents.models import ChannelKind, ContactMethod, NotificationRule, Schedule, ScheduleOverride
from incidents.notify import netguard
from portal.errors import ValidationFailed
from portal.text import clean_text


@transaction.atomic
def override_create(*, schedule: Schedule, user: Any, starts_at: datetime, ends_at: datetime, by: Any, reason: str = "") -> ScheduleOverride:
    if ends_at <= starts_at:
        raise ValidationFailed("An override must end after it starts.", fields={"ends_at": ["Must be after starts_at."]})
    if not getattr(user, "is_active", False):
        raise ValidationFailed("That person cannot be on call.", fields={"user": ["The account is inactive."]})
    return ScheduleOverride.objects.create(schedule=schedule, user=user, starts_at=starts_at, ends_at=ends_at,
                                           reason=clean_text(reason, max_length=200), created_by=by if by and by.is_authenticated else None)


@transaction.atomic
def shift_swap(*, schedule: Schedule, user: Any, with_user: Any, starts_at: datetime, ends_at: datetime, by: Any) -> ScheduleOverride:
    """`with_user` takes `user`'s shift for the range: an override in their name (the
    reverse half of a swap is the same call with the names exchanged)."""
    return override_create(schedule=schedule, user=with_user, starts_at=starts_at, ends_at=ends_at, by=by,
                           reason=f"swap with {user.get_username()}")


def clean_target(kind: str, target: str) -> str:
    target = clean_text(target, max_length=500)
    if kind == ChannelKind.EMAIL:
        try:
            validate_email(target)
        except Exception as exc:  # noqa: BLE001 - Django's ValidationError, reported in our shape
            raise ValidationFailed("Not an email address.", fields={"target": ["Enter a valid email address."]}) from exc
        return target
    try:
        netguard.check_url(target)
    except netguard.RefusedAddress as exc:
        raise ValidationFailed(str(exc), fields={"target": [str(exc)]}) from exc
    return target


@transaction.atomic
def contact_method_create(*, user: Any, kind: str, target: str, label: str = "", secret: str = "") -> ContactMethod:
    if kind not in ChannelKind.values or kind == ChannelKind.PAGERDUTY:
        raise ValidationFailed("Unknown contact method.", fields={"kind": ["Choose email, slack, teams or webhook."]})
    return ContactMethod.objects.create(user=user, kind=kind, target=clean_target(kind, target),
                                        label=clean_text(label, max_length=120), secret=clean_text(secret, max_length=200))


@transaction.atomic
def notification_rule_create(*, user: Any, contact_method: ContactMethod, delay_minutes: int = 0) -> NotificationRule:
    if contact_method.user_id != user.pk:
        raise ValidationFailed("That contact method is not yours.", fields={"contact_method": ["Not one of your contact methods."]})
    if not 0 <= delay_minutes <= 1440:
        raise ValidationFailed("The delay must be between 0 and 1440 minutes.", fields={"delay_minutes": ["0 to 1440."]})
    return NotificationRule.objects.create(user=user, contact_method=contact_method, delay_minutes=delay_minutes)
