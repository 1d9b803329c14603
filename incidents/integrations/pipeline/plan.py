"""What one group of a delivery does, gathered while its alerts are locked and
carried out in a few statements (stage 3, apply) and on the incident (stage 4, attach)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from incidents.integrations.common import Signal
from incidents.models import Alert, AlertEvent, Delivery


@dataclass
class Plan:
    delivery: Delivery
    group_key: str
    counts: Counter[str] = field(default_factory=Counter)  # transition -> signals
    fired: list[tuple[Alert, Signal]] = field(default_factory=list)  # open or append to the group's incident
    resolved: list[Alert] = field(default_factory=list)  # the group's incident may settle
    acked: list[tuple[Alert, Signal]] = field(default_factory=list)  # a line on the incident's timeline
    incident_actions: list[tuple[Alert, Signal, str]] = field(default_factory=list)  # priority / annotate
    history: list[AlertEvent] = field(default_factory=list)  # AlertEvent rows, inserted in one statement
    repeats: list[int] = field(default_factory=list)  # alerts only seen again: one UPDATE for all

    def record(self, alert: Alert, signal: Signal, status: str) -> None:
        """A transition for the alert's history. Decided under the alert's row lock,
        so a conflict on insert can only be a replay (and is ignored)."""
        self.history.append(
            AlertEvent(alert=alert, delivery=self.delivery, status=status, external_id=signal.transition_id[:128],
                       occurred_at=signal.occurred_at)
        )  # fmt: skip
