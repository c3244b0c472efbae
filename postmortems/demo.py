"""Demo data for `seed_demo`: the P0 outage's post-mortem with action items, and six months
of resolved incidents so the dashboard's charts and figures have something to say.

Runs inside seed_demo's transaction, before the drafting hook would (hooks run on commit), so
it drafts through the same idempotent domain function; the hook then finds the work done.
"""

from datetime import timedelta

from django.utils import timezone

from incidents.core import lifecycle
from incidents.models import Incident, Severity
from postmortems.models import Postmortem, RootCauseCategory
from postmortems.services import (
    action_item_create,
    postmortem_draft,
    postmortem_transition,
    postmortem_update,
)

# (days ago, severity, title, service slug, minutes to detect, to acknowledge, to resolve, cause)
HISTORY = [
    (170, "P1", "Search results empty for logged-out users", "api", 3, 12, 150, "Code bug"),
    (158, "P2", "Slow admin exports", "database", 8, 40, 600, "Capacity"),
    (141, "P0", "Site down after load balancer change", "frontend", 2, 6, 55, "Configuration"),
    (120, "P1", "Email provider rate limit stalls workers", "workers", 4, 25, 190, "Rate limit"),
    (101, "P2", "Image thumbnails missing", "workers", 10, 90, 900, "Dependency"),
    (88, "P1", "Database connection pool exhausted", "database", 1, 9, 95, "Database"),
    (74, "P3", "Broken link in the footer", "frontend", 30, 300, 2000, ""),
    (61, "P0", "Payments webhooks rejected (signature)", "payments", 2, 4, 48, "Deployment"),
    (47, "P1", "Email provider rate limit again", "workers", 3, 15, 120, "Rate limit"),
    (33, "P2", "Search latency above 2 s", "api", 6, 35, 420, "Capacity"),
    (20, "P1", "Checkout slow after the deploy", "checkout", 2, 8, 70, "Deployment"),
    (9, "P2", "Worker memory growth", "workers", 5, 50, 380, "Code bug"),
]


def _history(people: dict, services: dict) -> None:
    now = timezone.now()
    sev = {s.key: s for s in Severity.objects.all()}
    categories = {c.name: c for c in RootCauseCategory.objects.all()}
    responders = [people["alice"], people["bob"]]
    for n, (days, key, title, slug, detect, ack, resolve, cause) in enumerate(HISTORY):
        who = responders[n % 2]
        detected = now - timedelta(days=days)
        incident = lifecycle.incident_create(
            title=title,
            severity=sev[key],
            services=[services[slug]],
            via="Alertmanager: production",
            started_at=detected - timedelta(minutes=detect),
            detected_at=detected,
        )
        lifecycle.incident_acknowledge(incident=incident, actor=who)
        lifecycle.incident_assign_commander(incident=incident, commander=who, actor=who)
        lifecycle.incident_resolve(incident=incident, actor=who)
        # Move acknowledgement and resolution to the scripted offsets from detection.
        Incident.objects.filter(pk=incident.pk).update(
            acknowledged_at=detected + timedelta(minutes=ack),
            mitigated_at=detected + timedelta(minutes=resolve),
            resolved_at=detected + timedelta(minutes=resolve),
        )
        if not cause:
            continue
        postmortem, _ = postmortem_draft(incident=incident, actor=who)
        postmortem_update(
            postmortem=postmortem,
            root_cause_category=categories[cause],
            root_cause=f"{cause}: see the incident timeline.",
            summary=postmortem.summary or title + ".",
        )
        if days > 15:
            postmortem_transition(postmortem=postmortem, to="in_review", actor=who)
            postmortem_transition(postmortem=postmortem, to="published", actor=people["carol"])


def seed_postmortems(people: dict, services: dict) -> None:
    """Once: skipped when the outage's post-mortem already has action items."""
    outage = (
        Incident.objects.filter(title="Checkout returns 502 for all requests", status="resolved")
        .order_by("number")
        .first()
    )
    if (
        outage is None
        or Postmortem.objects.filter(incident=outage, action_items__isnull=False).exists()
    ):
        return
    postmortem, _ = postmortem_draft(incident=outage, actor=people["carol"])
    postmortem_update(
        postmortem=postmortem,
        affected_users="All customers attempting checkout (about 1,200 orders)",
        root_cause="The 14:20 deploy shipped a payment client configuration pointing at the "
        "sandbox endpoint; every payment call failed and the backend answered 502.",
        root_cause_category=RootCauseCategory.objects.get(name="Deployment"),
        contributing_factors="Configuration not validated at startup\n"
        "No canary stage for the checkout service",
        impact_business="About 40 minutes without orders\nSupport tickets from 35 customers",
        resolution="Rolled back to the previous release, then verified payments end to end.",
        went_well="Alert detection was immediate\nRollback was smooth",
        went_poorly="Took 20 minutes to connect the deploy to the errors",
        prevention="Validate payment configuration at startup\nCanary deploys for checkout",
    )
    today = timezone.localdate()
    action_item_create(
        postmortem=postmortem,
        title="Validate payment client configuration at startup",
        owner=people["alice"],
        due_date=today + timedelta(days=7),
        priority="high",
        tracker_url="https://linear.app/example/issue/OPS-101",
    )
    action_item_create(
        postmortem=postmortem,
        title="Add a canary stage to checkout deploys",
        owner=people["bob"],
        due_date=today - timedelta(days=1),
        priority="medium",
    )
    _history(people, services)
