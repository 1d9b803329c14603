from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import factory
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from incidents.models import Service, ServiceGroup, Severity, Visibility
from portal.models import Membership, OrgRole, Team


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        user = cast(User, self)  # factory_boy calls the hook with the object it made
        if create:
            user.save()  # keeps the password set above
        if create and extracted:
            Membership.objects.update_or_create(user=user, defaults={"role": extracted})


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class ServiceGroupFactory(factory.django.DjangoModelFactory[ServiceGroup]):
    class Meta:
        model = ServiceGroup
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"group-{n}")
    name = factory.LazyAttribute(lambda g: g.slug.title())


class ServiceFactory(factory.django.DjangoModelFactory[Service]):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("-", " ").title())
    visibility = Visibility.PUBLIC


def severity(name: str = "SEV2") -> Severity:
    """The default scheme is created by a migration; tests use its rows."""
    return Severity.objects.get(name=name)


def declare(*, by: Any = None, title: str = "Checkout is failing", sev: str = "SEV2", **kwargs: Any) -> Any:
    from incidents.services import incident_declare

    return incident_declare(title=title, severity=severity(sev), by=by, **kwargs)


@dataclass
class Cast:
    owner: Any  # manager: configures everything
    responder: Any
    viewer: Any
    outsider: Any  # inactive account: locked out everywhere
    service: Service
    internal_service: Service

    @classmethod
    def create(cls) -> Cast:
        return cls(
            owner=UserFactory.create(username="owner", role=OrgRole.MANAGER),
            responder=UserFactory.create(username="responder", role=OrgRole.RESPONDER),
            viewer=UserFactory.create(username="viewer", role=OrgRole.VIEWER),
            outsider=UserFactory.create(username="outsider", role=OrgRole.RESPONDER, is_active=False),
            service=ServiceFactory.create(slug="api", name="Public API"),
            internal_service=ServiceFactory.create(slug="billing-worker", name="Billing worker", visibility=Visibility.INTERNAL),
        )


class ApiClientFactory:
    """`api.as_(cast.responder).post(...)` returns a client signed in as that user."""

    def __init__(self, cast: Cast) -> None:
        self.cast = cast

    def as_(self, user: Any | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

