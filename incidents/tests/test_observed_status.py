"""A service's observed status (pushed by automated checks) in the status derivation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Impact, MaintenanceStatus, Service
from incidents.public.data import load_public_data
from incidents.selectors import service_statuses
from incidents.services import maintenance_change_status, maintenance_schedule, service_set_observed_status
from portal.errors import ValidationFailed
from portal.tests.factories import ServiceFactory, declare

pytestmark = pytest.mark.django_db


def public_status(service: Service) -> str:
    return next(c.status for c in load_public_data().components if c.service.pk == service.pk)


def test_an_observed_outage_shows_on_the_dashboard_and_the_status_page() -> None:
    service = ServiceFactory.create(slug="search")
    assert service_set_observed_status(service=service, status=Impact.MAJOR_OUTAGE) is True
    assert service_statuses([service.pk])[service.pk] == Impact.MAJOR_OUTAGE
    assert public_status(service) == Impact.MAJOR_OUTAGE
    assert service_set_observed_status(service=service, status=Impact.MAJOR_OUTAGE) is False  # no change
    service_set_observed_status(service=service, status=Impact.OPERATIONAL)
    assert service_statuses([service.pk]).get(service.pk, Impact.OPERATIONAL) == Impact.OPERATIONAL
    assert public_status(service) == Impact.OPERATIONAL


def test_the_worse_of_incidents_and_observation_wins() -> None:
    service = ServiceFactory.create(slug="search")
    declare(impacts={service: Impact.PARTIAL_OUTAGE})
    service_set_observed_status(service=service, status=Impact.DEGRADED_PERFORMANCE)
    assert service_statuses([service.pk])[service.pk] == Impact.PARTIAL_OUTAGE
    service_set_observed_status(service=service, status=Impact.MAJOR_OUTAGE)
    assert service_statuses([service.pk])[service.pk] == Impact.MAJOR_OUTAGE


def test_maintenance_hides_an_observed_outage() -> None:
    service = ServiceFactory.create(slug="search")
    window = maintenance_schedule(title="Reindex", scheduled_start=timezone.now(), scheduled_end=timezone.now() + timedelta(hours=1),
                                  services=[service], by=None)  # fmt: skip
    maintenance_change_status(window=window, status=MaintenanceStatus.IN_PROGRESS, by=None)
    service_set_observed_status(service=service, status=Impact.MAJOR_OUTAGE)
    assert service_statuses([service.pk])[service.pk] == Impact.UNDER_MAINTENANCE
    assert public_status(service) == Impact.UNDER_MAINTENANCE


def test_a_late_observation_does_not_put_back_a_stale_status() -> None:
    service = ServiceFactory.create(slug="search")
    now = timezone.now()
    service_set_observed_status(service=service, status=Impact.OPERATIONAL, at=now)
    assert service_set_observed_status(service=service, status=Impact.MAJOR_OUTAGE, at=now - timedelta(seconds=5)) is False
    assert Service.objects.get(pk=service.pk).observed_status == Impact.OPERATIONAL
    with pytest.raises(ValidationFailed):
        service_set_observed_status(service=service, status="on_fire")
