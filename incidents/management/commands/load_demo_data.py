"""Demo data: people, services in groups, 90 days of incident history with
timelines, public updates and postmortems, one active incident and one scheduled
maintenance. Loads once: a second run sees the demo services and does nothing.

History is written as rows with past timestamps (the services stamp `now`); the
active incident, the maintenance and the postmortem workflow go through the
services like any other change.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents import services
from incidents.models import (
    Impact,
    Incident,
    IncidentRole,
    IncidentService,
    IncidentStatus,
    PostmortemStatus,
    PublicUpdate,
    PublicUpdateComponent,
    RoleAssignment,
    Service,
    ServiceDependency,
    ServiceGroup,
    ServiceLink,
    Severity,
    TimelineEvent,
    TimelineKind,
    Visibility,
)
from incidents.oncall import demo as oncall_demo
from portal.markdown import render_markdown
from portal.models import Membership, OrgRole, Team

User = get_user_model()

PEOPLE = [
    # username, first, last, role, staff
    ("manager", "Maya", "Okafor", OrgRole.MANAGER, True),
    ("commander", "Chen", "Li", OrgRole.RESPONDER, False),
    ("responder", "Rosa", "Delgado", OrgRole.RESPONDER, False),
    ("viewer", "Victor", "Hale", OrgRole.VIEWER, False),
]

GROUPS = [("customer-facing", "Customer-facing", 0), ("platform", "Platform", 1), ("data", "Data", 2)]

SERVICES = [
    # slug, name, group, team, visibility, description, depends on
    ("website", "Website", "customer-facing", "web", "public", "Marketing site and documentation.", ["cdn"]),
    ("web-app", "Web application", "customer-facing", "web", "public", "The app customers sign in to.", ["api", "auth"]),
    ("mobile-api", "Mobile API", "customer-facing", "web", "public", "Backend of the iOS and Android apps.", ["api"]),
    ("checkout", "Checkout", "customer-facing", "payments", "public", "Cart, payment and order confirmation.",
     ["payments-gateway", "api"]),
    ("api", "Public API", "platform", "platform", "public", "REST API for customers and integrations.", ["database"]),
    ("auth", "Authentication", "platform", "platform", "public", "Sign-in, SSO and sessions.", ["database"]),
    ("cdn", "CDN", "platform", "platform", "public", "Static assets and edge caching.", []),
    ("notifications", "Email and notifications", "data", "platform", "public", "Transactional email, push and SMS.",
     ["queue"]),
    ("payments-gateway", "Payments gateway", "data", "payments", "internal", "Card processor adapter.", []),
    ("database", "Primary database", "data", "platform", "internal", "PostgreSQL cluster.", []),
    ("queue", "Job queue", "data", "platform", "internal", "Background jobs.", []),
]  # fmt: skip

HISTORY = [
    # title, services, severity, public, summary of cause
    ("Elevated error rates on the Public API", ["api", "mobile-api"], "SEV2", True, "a bad deploy of the API gateway"),
    ("Checkout payments failing for some cards", ["checkout"], "SEV1", True, "an expired certificate at the card processor"),
    ("Slow page loads on the web application", ["web-app"], "SEV3", True, "a cache eviction storm"),
    ("Sign-in failures for SSO customers", ["auth", "web-app"], "SEV2", True, "an identity provider metadata change"),
    ("Delayed email delivery", ["notifications"], "SEV3", True, "a backlog in the job queue"),
    ("Database failover", ["api", "auth"], "SEV1", True, "a failed disk on the primary"),
    ("CDN serving stale assets", ["website", "cdn"], "SEV4", True, "a purge that did not propagate"),
    ("Job queue workers crash-looping", ["queue"], "SEV3", False, "a memory leak in a new worker release"),
    ("Mobile push notifications delayed", ["notifications", "mobile-api"], "SEV3", True, "provider rate limiting"),
    ("Intermittent 502s on the website", ["website"], "SEV4", True, "a misconfigured load balancer health check"),
    ("Replica lag on the primary database", ["database"], "SEV3", False, "a long-running analytics query"),
    ("Checkout latency spike", ["checkout", "api"], "SEV2", True, "connection pool exhaustion"),
]

IMPACT_FOR = {"SEV1": Impact.MAJOR_OUTAGE, "SEV2": Impact.PARTIAL_OUTAGE, "SEV3": Impact.DEGRADED_PERFORMANCE,
              "SEV4": Impact.DEGRADED_PERFORMANCE}  # fmt: skip


class Command(BaseCommand):
    help = "Load demo data once (people, services, 90 days of incidents, one active incident, one maintenance)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Service.objects.filter(slug="web-app").exists():
            self.stdout.write("demo data already loaded")
            return
        rng = random.Random(42)
        with transaction.atomic():
            people = self._people()
            catalog = self._catalog()
            oncall_demo.load(people)
        self._history(rng, people, catalog)
        self._active(people, catalog)
        self._maintenance(people, catalog)
        self.stdout.write(self.style.SUCCESS(f"demo data loaded: {Incident.objects.count()} incidents"))

    def _people(self) -> dict[str, Any]:
        people = {}
        for username, first, last, role, staff in PEOPLE:
            user = User.objects.create_user(
                username=username, password=f"demo-{username}", first_name=first, last_name=last,
                email=f"{username}@example.com", is_staff=staff, is_superuser=role == OrgRole.MANAGER,
            )  # fmt: skip
            Membership.objects.create(user=user, role=role)
            people[username] = user
        return people

    def _catalog(self) -> dict[str, Service]:
        teams = {slug: Team.objects.create(slug=slug, name=slug.title()) for slug in ("web", "platform", "payments")}
        groups = {slug: ServiceGroup.objects.create(slug=slug, name=name, display_order=order) for slug, name, order in GROUPS}
        catalog: dict[str, Service] = {}
        for order, (slug, name, group, team, visibility, description, _deps) in enumerate(SERVICES):
            service = Service.objects.create(
                slug=slug, name=name, group=groups[group], team=teams[team], visibility=visibility,
                description=description, display_order=order,
            )  # fmt: skip
            ServiceLink.objects.create(service=service, kind="dashboard", label="Dashboard", url=f"https://grafana.example.com/d/{slug}")
            ServiceLink.objects.create(service=service, kind="repository", label="Repository", url=f"https://git.example.com/{slug}")
            catalog[slug] = service
        for slug, *_rest, deps in SERVICES:
            for dep in deps:
                ServiceDependency.objects.create(service=catalog[slug], depends_on=catalog[dep])
        return catalog

    @transaction.atomic
    def _history(self, rng: random.Random, people: dict[str, Any], catalog: dict[str, Service]) -> None:
        now = timezone.now()
        severities = {s.name: s for s in Severity.objects.all()}
        responders = [people["commander"], people["responder"], people["manager"]]
        for index in range(26):
            title, slugs, sev, public, cause = HISTORY[index % len(HISTORY)]
            started = now - timedelta(days=88 - index * 3.3, hours=rng.randint(0, 20), minutes=rng.randint(0, 59))
            ack = started + timedelta(minutes=rng.randint(2, 25))
            identified = ack + timedelta(minutes=rng.randint(5, 60))
            mitigated = identified + timedelta(minutes=rng.randint(5, 90))
            resolved = mitigated + timedelta(minutes=rng.randint(10, 120))
            commander = rng.choice(responders)
            incident = Incident.objects.create(
                title=title, summary=f"Caused by {cause}.", severity=severities[sev], status=IncidentStatus.RESOLVED,
                visibility=Visibility.PUBLIC if public else Visibility.INTERNAL, started_at=started, acknowledged_at=ack,
                identified_at=identified, mitigated_at=mitigated, resolved_at=resolved, created_by=commander,
            )  # fmt: skip
            for slug in slugs:
                IncidentService.objects.create(incident=incident, service=catalog[slug], impact=IMPACT_FOR[sev])
            RoleAssignment.objects.create(incident=incident, role=IncidentRole.COMMANDER, user=commander, started_at=ack,
                                          ended_at=resolved, assigned_by=commander)
            names = ", ".join(catalog[s].name for s in slugs)
            events = [
                (started, TimelineKind.DECLARED, f"Declared {sev}: {title}", {"severity": sev}, None),
                (ack, TimelineKind.ROLE_CHANGE, f"{commander.get_full_name()} is now Incident commander",
                 {"role": "commander", "to_user": commander.pk}, commander),
                (ack + timedelta(minutes=1), TimelineKind.NOTE, f"Looking at dashboards for {names}.", {}, commander),
                (identified, TimelineKind.STATUS_CHANGE, f"Cause: {cause}.", {"from": "investigating", "to": "identified"}, commander),
                (mitigated, TimelineKind.STATUS_CHANGE, "Fix deployed.", {"from": "identified", "to": "monitoring"}, commander),
                (resolved, TimelineKind.STATUS_CHANGE, "", {"from": "monitoring", "to": "resolved"}, commander),
            ]
            for when, kind, body, details, author in events:
                TimelineEvent.objects.create(incident=incident, kind=kind, body=body, details=details, author=author,
                                             occurred_at=when, created_at=when, pinned=kind == TimelineKind.STATUS_CHANGE and "Cause" in body)
            if public:
                messages = [
                    (ack, IncidentStatus.INVESTIGATING, f"We are investigating problems with {names}."),
                    (identified, IncidentStatus.IDENTIFIED, f"We have identified the cause: {cause}. A fix is being prepared."),
                    (mitigated, IncidentStatus.MONITORING, "A fix has been deployed. We are monitoring the results."),
                    (resolved, IncidentStatus.RESOLVED, f"This incident has been resolved. Everything is working normally again for {names}."),
                ]
                for when, status, text in messages:
                    update = PublicUpdate.objects.create(incident=incident, status=status, body=text, body_html=render_markdown(text),
                                                         display_at=when, author=commander)
                    if status in (IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED):
                        for slug in slugs:
                            if catalog[slug].is_public:
                                old, new = (Impact.OPERATIONAL, IMPACT_FOR[sev]) if status == IncidentStatus.INVESTIGATING else (
                                    IMPACT_FOR[sev], Impact.OPERATIONAL)
                                PublicUpdateComponent.objects.create(update=update, service=catalog[slug], old_status=old, new_status=new)
                    TimelineEvent.objects.create(incident=incident, kind=TimelineKind.PUBLIC_UPDATE, body=text, author=commander,
                                                 details={"public_update_id": update.pk, "status": status}, occurred_at=when, created_at=when)
            if sev in ("SEV1", "SEV2"):
                self._postmortem(incident, commander, cause, publish=index < 20)

    def _postmortem(self, incident: Incident, by: Any, cause: str, *, publish: bool) -> None:
        postmortem = services.postmortem_start(incident=incident, by=by)
        services.postmortem_update(
            postmortem=postmortem, by=by, users_affected=1200 + incident.pk * 37,
            sections={
                "summary": f"{incident.title}. The incident lasted {int((incident.time_to_resolve or timedelta()).total_seconds() // 60)} minutes.",
                "impact": "Some customers saw errors or slow responses; no data was lost.",
                "root-cause": f"The incident was caused by {cause}.",
                "went-well": "Alerting fired within two minutes; the rollback procedure worked.",
                "went-badly": "The status page was updated late.",
                "lessons": "Automate the rollback; add a canary stage.",
            },
        )  # fmt: skip
        services.action_item_create(postmortem=postmortem, by=by, title="Add a canary stage to the deploy pipeline", owner=by,
                                    due_date=(incident.started_at + timedelta(days=30)).date(), priority="high")
        services.action_item_create(postmortem=postmortem, by=by, title="Alert on certificate expiry 30 days ahead",
                                    priority="medium", external_url="https://tracker.example.com/OPS-101")
        if publish:
            services.postmortem_change_status(postmortem=postmortem, status=PostmortemStatus.PUBLISHED, by=by)

    def _active(self, people: dict[str, Any], catalog: dict[str, Service]) -> None:
        commander = people["commander"]
        incident = services.incident_declare(
            title="Elevated checkout errors", severity=Severity.objects.get(rank=2), by=commander,
            summary="Checkout requests fail with 503 for a share of customers.", visibility=Visibility.PUBLIC,
            impacts={catalog["checkout"]: Impact.PARTIAL_OUTAGE, catalog["payments-gateway"]: Impact.MAJOR_OUTAGE},
            commander=commander, tags=["payments"],
        )  # fmt: skip
        services.incident_assign_role(incident=incident, role=IncidentRole.COMMUNICATIONS, user=people["responder"], by=commander)
        services.incident_add_note(incident=incident, body="Error rate at 12% on checkout since 10 minutes ago.", by=commander, pinned=True)
        services.incident_post_update(
            incident=incident, by=people["responder"],
            body="We are investigating elevated error rates during **checkout**. Some payments may fail; please retry.",
        )  # fmt: skip
        services.incident_change_status(incident=incident, status=IncidentStatus.IDENTIFIED, by=commander,
                                        note="The card processor is timing out; failing over to the secondary.")

    def _maintenance(self, people: dict[str, Any], catalog: dict[str, Service]) -> None:
        start = (timezone.now() + timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
        services.maintenance_schedule(
            title="Database upgrade to PostgreSQL 17", by=people["manager"], scheduled_start=start,
            scheduled_end=start + timedelta(hours=2), services=[catalog["api"], catalog["auth"]],
            description="The API and sign-in may be unavailable for up to 5 minutes during the switchover.",
        )  # fmt: skip
