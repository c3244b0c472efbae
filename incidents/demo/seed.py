"""Demo data for `seed_demo`: a small team, its services and a few incidents in every state.

Everything goes through the domain functions, so the timeline is real; only the clock is
moved back afterwards so the history reads like last week's.
"""

import os
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from incidents.core import hooks, lifecycle
from incidents.core.defaults import ensure_default_severities
from incidents.models import Incident, Service, Severity, StatusUpdate, TimelineEvent
from incidents.oncall.schedules import seed_demo_schedules
from incidents.paging.policies import seed_demo_escalation

PEOPLE = [
    # username, first, last, group
    ("alice", "Alice", "Nguyen", "Responder"),
    ("bob", "Bob", "Okafor", "Responder"),
    ("carol", "Carol", "Schmidt", "Incident manager"),  # engineering lead
    ("dave", "Dave", "Martins", "Incident manager"),  # CTO
    ("vera", "Vera", "Lindqvist", "Viewer"),  # support, reads only
]

SERVICES = [
    ("Checkout", "checkout", "Cart, payment and order confirmation.", "carol"),
    ("Public API", "api", "The REST API behind the web and mobile apps.", "carol"),
    ("Database", "database", "Primary PostgreSQL cluster and its connection pooler.", "dave"),
    ("Background workers", "workers", "Job queues: emails, image processing, webhooks.", "alice"),
    ("Payments webhooks", "payments", "Incoming payment-provider webhooks.", "bob"),
    ("Web frontend", "frontend", "The customer-facing web application.", "bob"),
]


def seed_people() -> dict:
    User = get_user_model()
    password = os.environ.get("TOCSIN_DEMO_PASSWORD")
    people = {}
    for username, first, last, group_name in PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.com",
                "is_staff": True,
            },
        )
        # TOCSIN_DEMO_PASSWORD applies on every run; without it a new demo user cannot log in.
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        elif created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        group, _ = Group.objects.get_or_create(name=group_name)
        user.groups.add(group)
        people[username] = user
    return people


# What customers see on the status page: (public name, one line), in page order.
PUBLIC = {
    "frontend": ("Website", "Browsing, search and accounts"),
    "checkout": ("Checkout", "Cart, payment and order confirmation"),
    "api": ("API", "The public REST API and mobile apps"),
}


def seed_services(people: dict) -> dict:
    services = {}
    for name, slug, description, owner in SERVICES:
        public_name, public_description = PUBLIC.get(slug, ("", ""))
        services[slug], _ = Service.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "owner": people[owner],
                "is_public": slug in PUBLIC,
                "public_name": public_name,
                "public_description": public_description,
                "status_order": list(PUBLIC).index(slug) if slug in PUBLIC else 100,
            },
        )
    return services


def _replay(incident: Incident, *, started_ago: timedelta, minutes: list[int]) -> None:
    """Spread an incident's history over time, as if it had happened `started_ago`.

    The n-th timeline row gets `minutes[n]` after detection (the last value repeats); the
    incident's timestamps and its updates follow their timeline rows.
    """
    incident.refresh_from_db()
    detected = timezone.now() - started_ago
    events = list(TimelineEvent.objects.filter(incident=incident).order_by("at", "id"))
    for n, event in enumerate(events):
        event.at = detected + timedelta(minutes=minutes[min(n, len(minutes) - 1)])
        event.save(update_fields=["at"])
        status = (event.after or {}).get("status")
        if event.kind == "status" and status == "acknowledged":
            incident.acknowledged_at = event.at
        if event.kind == "status" and status == "monitoring":
            incident.mitigated_at = event.at
        if event.kind == "status" and status == "resolved":
            incident.resolved_at = event.at
            incident.mitigated_at = incident.mitigated_at or event.at
        if event.kind == "update":
            StatusUpdate.objects.filter(pk=event.after["update"]).update(created_at=event.at)
    incident.detected_at = detected
    incident.started_at = detected - timedelta(minutes=3)
    incident.save(
        update_fields=[
            "started_at",
            "detected_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
        ]
    )


def seed_incidents(people: dict, services: dict) -> None:
    """A handful of incidents from the team runbooks' scenarios, once (skipped if any incident exists)."""
    if Incident.objects.exists():
        return
    sev = {s.key: s for s in Severity.objects.all()}
    alice, bob, carol = people["alice"], people["bob"], people["carol"]

    outage = lifecycle.incident_create(
        title="Checkout returns 502 for all requests",
        severity=sev["P0"],
        services=[services["checkout"], services["api"]],
        impact="All customers: orders cannot be placed.",
        summary="Backend answered 502 after the 14:20 deploy; rolled back.",
        via="Alertmanager: production",
    )
    lifecycle.incident_acknowledge(incident=outage, actor=alice)
    lifecycle.incident_assign_commander(incident=outage, commander=carol, actor=carol)
    lifecycle.status_update_post(
        incident=outage,
        actor=carol,
        public=True,
        status="investigating",
        public_title="Orders failing at checkout",
        message="We're investigating reports of errors at checkout. Orders may fail.",
    )
    lifecycle.status_update_post(
        incident=outage,
        actor=alice,
        status="identified",
        message="The 14:20 deploy broke the payment client configuration. Rolling back.",
    )
    lifecycle.status_update_post(
        incident=outage,
        actor=carol,
        public=True,
        status="monitoring",
        message="A fix has been deployed and we are monitoring the situation.",
    )
    lifecycle.status_update_post(
        incident=outage,
        actor=carol,
        public=True,
        status="resolved",
        message="This incident has been resolved. All services are now operational.",
    )
    # created, acknowledged, commander, public title, then four (status move + update) pairs
    _replay(
        outage,
        started_ago=timedelta(days=3, hours=2),
        minutes=[0, 4, 5, 6, 6, 6, 14, 14, 27, 27, 41, 41],
    )

    worker = lifecycle.incident_create(
        title="Worker stopped processing jobs (queue backing up)",
        severity=sev["P1"],
        services=[services["workers"]],
        impact="Emails and image processing delayed for all users.",
        via="Alertmanager: production",
        started_at=timezone.now() - timedelta(minutes=50),
    )
    lifecycle.incident_add_responder(incident=worker, user=bob, actor=alice)
    lifecycle.incident_assign_commander(incident=worker, commander=alice, actor=alice)
    lifecycle.incident_transition(incident=worker, to="identified", actor=alice)
    lifecycle.status_update_post(
        incident=worker,
        actor=alice,
        message="Rate limit from the email provider stalls the queue; draining failed jobs.",
    )
    _replay(worker, started_ago=timedelta(minutes=40), minutes=[0, 6, 7, 9, 9, 22])

    lifecycle.incident_create(
        title="Database connection pool exhausted",
        severity=sev["P1"],
        services=[services["database"], services["api"]],
        summary="API timeouts; pool at 100% for 10 minutes.",
        via="Alertmanager: production",
    )
    uploads = lifecycle.incident_create(
        title="Image uploads failing intermittently",
        severity=sev["P2"],
        services=[services["frontend"]],
        actor=bob,
    )
    lifecycle.incident_acknowledge(incident=uploads, actor=bob)
    lifecycle.status_update_post(
        incident=uploads,
        actor=bob,
        public=True,
        public_title="Some image uploads fail",
        message="Some image uploads fail and need a retry. We are investigating.",
    )
    _replay(uploads, started_ago=timedelta(minutes=25), minutes=[0, 3, 8, 8])
    lifecycle.incident_create(
        title="Typo on the About page",
        severity=sev["P3"],
        services=[services["frontend"]],
        actor=people["vera"],
    )


@transaction.atomic
def seed_demo() -> None:
    ensure_default_severities(Severity)
    people = seed_people()
    services = seed_services(people)
    seed_demo_schedules(people=people)
    seed_demo_escalation(people=people, services=services)
    seed_incidents(people, services)
    # The apps that build on incidents (post-mortems, runbooks) add theirs.
    for seed in hooks.providers(hooks.DEMO_DATA):
        seed(people, services)
