"""Delivery semantics: stored before answered, processed after commit, nothing lost
when the broker is down, failures kept with their error, concurrent workers agree."""

from __future__ import annotations

import copy
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from incidents.integrations import services, tasks
from incidents.integrations.pipeline import apply, process, receive, settle
from incidents.integrations.tests.helpers import (
    fixture,
    fixture_json,
    make,
    post_json,
    process_pending,
    store,
)
from incidents.models import AlertGroup, Delivery, DeliveryStatus, Incident, IntegrationKind
from portal.celery import app as celery_app

AM = IntegrationKind.ALERTMANAGER


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.mark.django_db
def test_the_task_is_queued_after_commit_and_processes_the_delivery(client, eager_celery, django_capture_on_commit_callbacks) -> None:
    integration, token = make(AM)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post_json(client, f"/integrations/alertmanager/{token}/", fixture("alertmanager", "firing.json"))
    assert response.status_code == 202
    assert callbacks[0].func is receive.enqueue  # the task is queued only once the row is committed
    assert Delivery.objects.get().status == DeliveryStatus.PROCESSED
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_with_the_broker_down_the_payload_is_kept_and_the_sweeper_processes_it_later(
    client, monkeypatch, eager_celery, django_capture_on_commit_callbacks
) -> None:
    integration, token = make(AM)

    def broker_down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to redis: Connection refused.")

    with monkeypatch.context() as patch:
        patch.setattr(tasks.process_delivery, "apply_async", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_json(client, f"/integrations/alertmanager/{token}/", fixture("alertmanager", "firing.json"))
    assert response.status_code == 202  # stored: the sender must not retry
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert receive.deliveries_sweep() == []  # too recent: its own task may still be on the way
    Delivery.objects.filter(pk=delivery.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    assert tasks.sweep_pending_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_a_payload_that_never_parses_is_failed_with_its_error() -> None:
    integration, _ = make(AM)
    delivery = store(integration, "{not json")
    assert process.delivery_process(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "not valid JSON" in delivery.error


@pytest.mark.django_db
def test_a_transient_failure_leaves_the_delivery_pending_with_its_error_then_fails_after_the_cap(monkeypatch) -> None:
    integration, _ = make(AM)
    delivery = store(integration, fixture("alertmanager", "firing.json"))

    def boom(*args, **kwargs):
        raise RuntimeError("worker lost its database")

    monkeypatch.setattr(apply, "apply_group", boom)
    with pytest.raises(settle.AlertsFailed):
        process.delivery_process(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert "worker lost its database" in delivery.error
    assert not Incident.objects.exists()  # every alert's work rolled back
    Delivery.objects.filter(pk=delivery.pk).update(attempts=settle.MAX_ATTEMPTS - 1)
    assert process.delivery_process(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    monkeypatch.undo()
    assert services.delivery_retry(delivery=delivery, by=None)
    process_pending()
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_a_deleted_delivery_is_skipped() -> None:
    assert process.delivery_process(delivery_id=987654) == "skipped"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("seeded_transactional_db")
def test_concurrent_workers_on_one_group_open_a_single_incident() -> None:
    integration, _ = make(AM)
    payloads = []
    for index in range(4):
        body = copy.deepcopy(fixture_json("alertmanager", "firing.json"))
        for alert in body["alerts"]:
            alert["fingerprint"] += f"-{index}"
        payloads.append(json.dumps(body))
    deliveries = [store(integration, body) for body in payloads]
    barrier = threading.Barrier(len(deliveries))
    results: list[str] = []
    errors: list[BaseException] = []

    def work(pk: int) -> None:
        try:
            barrier.wait()
            results.append(process.delivery_process(delivery_id=pk))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(d.pk,)) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(results) == ["processed"] * 4
    assert Incident.objects.count() == 1
    assert AlertGroup.objects.filter(is_open=True).count() == 1
    assert Incident.objects.get().alerts.count() == 8


@pytest.mark.django_db
def test_replaying_every_delivery_processes_nothing_new() -> None:
    integration, _ = make(AM)
    for name in ("firing.json", "resolved.json"):
        store(integration, fixture("alertmanager", name))
    process_pending()
    timeline = Incident.objects.get().timeline.count()
    Delivery.objects.update(status=DeliveryStatus.PENDING)
    assert process_pending() == ["processed", "processed"]
    assert Incident.objects.get().timeline.count() == timeline
