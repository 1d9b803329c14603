"""Managers import and export email subscribers as CSV.

Columns: `email`, `components` (public service slugs separated by `;`, empty: every
component), `confirmed` (`yes`/`no`, empty: no). Export writes the same columns, so an
export imports again as it was.

Import checks every row first and writes nothing when one is wrong: the error names
the row and the column. Addresses are compared lower-cased; a repeat in the file, an
address already subscribed and one that unsubscribed are skipped (an import never
subscribes again someone who left). A row marked confirmed is taken as confirmed
elsewhere (the system the list comes from) and is active at once; every other row is
sent the usual double opt-in email and stays inactive until confirmed.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from incidents.models import (
    ChannelKind,
    Notification,
    NotificationDelivery,
    Service,
    StatusSubscriber,
    Visibility,
)
from incidents.notify import services as notify
from incidents.notify.subscribers import send_batches
from portal.errors import ValidationFailed

COLUMNS = ["email", "components", "confirmed"]
MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024
TRUE, FALSE = {"yes", "y", "true", "1"}, {"no", "n", "false", "0", ""}


@dataclass
class ImportResult:
    confirmed: int = 0  # imported as confirmed
    invited: int = 0  # sent a confirmation email
    already_subscribed: int = 0
    unsubscribed: int = 0  # left before: not subscribed again
    duplicates: int = 0  # repeated in the file
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_rows() -> Iterable[list[str]]:
    yield COLUMNS
    subscribers = (StatusSubscriber.objects.filter(kind=StatusSubscriber.Kind.EMAIL, unsubscribed_at__isnull=True)
                   .prefetch_related("components").order_by("address"))
    for sub in subscribers.iterator(chunk_size=2000):
        slugs = ";".join(sorted(s.slug for s in sub.components.all()))
        yield [sub.address, slugs, "yes" if sub.confirmed_at else "no"]


def export_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in export_rows():
        writer.writerow(row)
    return out.getvalue()


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_BYTES:
        raise ValidationFailed("The file is too large.", fields={"file": [f"At most {MAX_BYTES // (1024 * 1024)} MB."]})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The file is not UTF-8 text.", fields={"file": ["Save it as CSV (UTF-8)."]}) from None


def _parse(text: str) -> tuple[list[tuple[int, str, list[str], bool]], list[str]]:
    """The rows as (line, email, component slugs, confirmed), and the errors found."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "email" not in header:
        return [], ["The first line must name the columns: email, components, confirmed (only email is required)."]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        return [], [f"Unknown columns: {', '.join(unknown)}. Use email, components, confirmed."]
    reader.fieldnames = header
    rows, errors = [], []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            return [], [f"At most {MAX_ROWS} rows per file."]
        if None in raw:
            errors.append(f"Row {number}: more values than columns.")
            continue
        email = (raw.get("email") or "").strip().lower()
        if not email and not any((v or "").strip() for v in raw.values()):
            continue  # a blank line
        try:
            validate_email(email)
            if len(email) > 254:
                raise ValidationError("too long")
        except ValidationError:
            errors.append(f"Row {number}: {email or '(empty)'!r} is not an email address.")
            continue
        confirmed = (raw.get("confirmed") or "").strip().lower()
        if confirmed not in TRUE | FALSE:
            errors.append(f"Row {number}: confirmed must be yes or no, not {confirmed!r}.")
            continue
        slugs = [s.strip() for s in (raw.get("components") or "").split(";") if s.strip()]
        rows.append((number, email, slugs, confirmed in TRUE))
    return rows, errors


def subscribers_import(*, data: bytes | str, by: Any) -> ImportResult:
    """Import a CSV of email subscribers, all rows or none (see the module's docstring)."""
    rows, errors = _parse(_decode(data))
    components = {s.slug: s for s in Service.objects.filter(visibility=Visibility.PUBLIC)}
    for number, _email, slugs, _confirmed in rows:
        unknown = [slug for slug in slugs if slug not in components]
        if unknown:
            errors.append(f"Row {number}: no public component {', '.join(unknown)}.")
    if errors:
        raise ValidationFailed(f"Nothing was imported: {len(errors)} rows are wrong.", fields={"rows": errors[:200]})
    result = ImportResult()
    with transaction.atomic():
        known = {
            address: unsubscribed
            for address, unsubscribed in StatusSubscriber.objects.filter(
                kind=StatusSubscriber.Kind.EMAIL, address__in=[r[1] for r in rows]
            ).values_list("address", "unsubscribed_at")
        }
        seen: set[str] = set()
        invite: list[StatusSubscriber] = []
        now = timezone.now()
        for _number, email, slugs, confirmed in rows:
            if email in seen:
                result.duplicates += 1
                continue
            seen.add(email)
            if email in known:
                if known[email] is not None:
                    result.unsubscribed += 1
                else:
                    result.already_subscribed += 1
                continue
            sub = StatusSubscriber.objects.create(kind=StatusSubscriber.Kind.EMAIL, address=email, token=secrets.token_urlsafe(32),
                                                  confirmed_at=now if confirmed else None)
            if slugs:
                sub.components.set([components[slug] for slug in slugs])
            if confirmed:
                result.confirmed += 1
            else:
                invite.append(sub)
        result.invited = len(invite)
        if invite:
            _send_invitations(invite)
    return result


def _send_invitations(subscribers: list[StatusSubscriber]) -> None:
    n = notify.notification_create(
        kind=Notification.Kind.SUBSCRIPTION, event="confirm", subject=f"Confirm your subscription to {settings.SITE_NAME} status",
        body="You were added to the subscribers of this status page. Confirm to receive its updates; "
             "without your confirmation you get nothing more.")
    rows = [NotificationDelivery(notification=n, subscriber=sub, kind=ChannelKind.EMAIL, target=sub.address,
                                 idempotency_key=f"n{n.pk}:s{sub.pk}") for sub in subscribers]
    NotificationDelivery.objects.bulk_create(rows, batch_size=1000)
    ids = list(NotificationDelivery.objects.filter(notification=n).order_by("pk").values_list("pk", flat=True))
    transaction.on_commit(partial(send_batches, ids))
