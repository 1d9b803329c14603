"""The worker's walk through one stored delivery: claim it, decide, apply each
group, settle. Called by the `integrations.process_delivery` task (tasks.py) and
safe to call any number of times: the claim and the work commit together, each
alert is locked while its transition is decided against the sender's own time,
and each group key has at most one open incident.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from incidents.integrations.common import PayloadInvalid, Signal
from incidents.integrations.pipeline import apply, settle
from incidents.integrations.pipeline.decide import signals_of
from incidents.models import Delivery


def delivery_process(*, delivery_id: int) -> str:
    """Process one stored delivery: "processed", "skipped" (not pending),
    "duplicate", "failed"; raises AlertsFailed (some alerts failed, retry) or the
    error that rolled the whole delivery back, below the attempt cap."""
    failed: list[str] = []
    try:
        with transaction.atomic():
            if not settle.claim(delivery_id):
                return "skipped"
            delivery = Delivery.objects.select_related("integration").get(pk=delivery_id)
            if settle.is_replay(delivery):
                return "duplicate"
            signals, skipped = signals_of(delivery)
            by_group: dict[str, list[Signal]] = defaultdict(list)
            for signal in sorted(signals, key=lambda s: (s.fingerprint, s.occurred_at)):
                by_group[signal.group_key].append(signal)
            for group_key in sorted(by_group):
                failed += apply.apply_isolated(delivery, group_key, by_group[group_key])
            settle.record_outcome(delivery, failed=failed, skipped=skipped)
        if not failed:
            return "processed"
    except PayloadInvalid as exc:
        settle.fail_invalid(delivery_id, str(exc))
        return "failed"
    except Exception as exc:
        if settle.record_failure(delivery_id, exc) >= settle.MAX_ATTEMPTS:
            return "failed"
        raise
    if delivery.attempts >= settle.MAX_ATTEMPTS:
        return "failed"
    raise settle.AlertsFailed("; ".join(failed)[:2000])
