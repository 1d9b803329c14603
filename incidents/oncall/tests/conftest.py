from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from django.contrib.auth.models import User

from incidents.models import EscalationPolicy, EscalationStep, LayerMember, Rotation, Schedule, ScheduleLayer
from portal.models import OrgRole
from portal.tests.factories import UserFactory


@pytest.fixture
def crew(db: Any) -> dict[str, Any]:
    """Two people rotating weekly in a primary schedule, a lead, and a policy: the primary
    at once, the lead after 5 minutes, repeated once."""
    ada = cast(User, UserFactory(username="ada", first_name="Ada", last_name="Lovelace", email="ada@example.com", role=OrgRole.RESPONDER))
    bob = cast(User, UserFactory(username="bob", first_name="Bob", last_name="Stone", email="bob@example.com", role=OrgRole.RESPONDER))
    lead = cast(User, UserFactory(username="lead", first_name="Lee", last_name="Lead", email="lead@example.com", role=OrgRole.MANAGER))
    schedule = Schedule.objects.create(slug="primary", name="Primary", time_zone="Europe/Berlin")
    layer = ScheduleLayer.objects.create(schedule=schedule, name="Weekly", rotation=Rotation.WEEKLY,
                                         rotation_start=datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    LayerMember.objects.create(layer=layer, user=ada, position=0)
    LayerMember.objects.create(layer=layer, user=bob, position=1)
    policy = EscalationPolicy.objects.create(slug="default", name="Default", repeat=1, is_default=True)
    first = EscalationStep.objects.create(policy=policy, position=0, delay_minutes=5)
    first.schedules.add(schedule)
    second = EscalationStep.objects.create(policy=policy, position=1, delay_minutes=10)
    second.users.add(lead)
    return {"ada": ada, "bob": bob, "lead": lead, "schedule": schedule, "policy": policy}
