"""The outbox: the one way Tocsin sends anything (issue #12).

Pages, reminders, follow-ups, handoff messages, status-page updates, subscription confirmations
and runbook-review mail are all `Notification` rows before they are anything else. A producer
calls one of the functions here inside its own transaction; each row is keyed by its recipient
and purpose (`dedup_key`), so a producer that runs again (a retried task, a second sweep) finds
the row it made the first time instead of making a second one. What a message says is rendered
once, here, when its row is created: a retry sends the same words.

Delivering the rows is `incidents.paging.delivery`: one task, one backoff, sent outside any
transaction (docs/delivery.md).
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.core import hooks
from incidents.core.texts import humanize_duration
from incidents.models import (
    ContactKind,
    ContactMethod,
    Incident,
    Notification,
    NotificationReason,
    NotificationRule,
    TeamChannel,
)
from incidents.models.notify import CARRIES_TEXT
from incidents.paging import deadlines as timers

logger = logging.getLogger(__name__)

DELIVER_TASK = "incidents.tasks.notification_deliver"

# Rows about an incident that its person can act on: they carry signed action links.
LINKED_REASONS = frozenset(
    {NotificationReason.PAGE, NotificationReason.DIRECT, NotificationReason.REMINDER}
)


# --- how to reach a person ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    kind: str
    address: str
    due_at: datetime
    method: ContactMethod | None = None
    rule: NotificationRule | None = None


@dataclass(frozen=True)
class _Reach:
    kind: str
    address: str
    delay: timedelta
    method: ContactMethod | None
    rule: NotificationRule | None


def routes_for(user, now: datetime, cache: dict | None = None) -> list[Route]:
    """How to reach a person: their rules in order; else every contact method at once; else the
    email address of their account. `cache` (per batch of steps) saves the lookups."""
    if cache is not None and user.pk in cache:
        return [Route(r.kind, r.address, now + r.delay, r.method, r.rule) for r in cache[user.pk]]
    rules = list(user.notification_rules.select_related("contact_method").order_by("order", "id"))
    if rules:
        found = [
            _Reach(r.contact_method.kind, r.contact_method.address, r.delay, r.contact_method, r)
            for r in rules
        ]
    else:
        methods = list(user.contact_methods.all())
        if methods:
            found = [_Reach(m.kind, m.address, timedelta(0), m, None) for m in methods]
        elif user.email:
            found = [_Reach(ContactKind.EMAIL, user.email, timedelta(0), None, None)]
        else:
            found = []
    if cache is not None:
        cache[user.pk] = found
    return [Route(r.kind, r.address, now + r.delay, r.method, r.rule) for r in found]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- queueing ----------------------------------------------------------------------------------


def _links_for(row: Notification, shared: dict) -> dict:
    # Imported here: the actions act through the engine, which queues through this module.
    from incidents.paging.actions.links import links_for

    return links_for(row, shared)


def _queue_all(rows: list[Notification]) -> list[Notification]:
    """Render and insert the rows in one statement; a row whose dedup key exists already is
    left as it was (the upsert only touches `updated_at`), so queueing it again is a no-op.
    Each new row's delivery task is published once the transaction commits."""
    if not rows:
        return []
    shared: dict = {}
    for row in rows:
        if row.reason in LINKED_REASONS and row.incident_id is not None and not row.links:
            row.links = _links_for(row, shared)
        if row.reason not in CARRIES_TEXT and not row.subject:
            row.subject, row.body = render(row, shared=shared)
    Notification.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["dedup_key"], update_fields=["updated_at"]
    )
    jobs = [(row.pk, row.due_at) for row in rows]

    def publish_all():
        for pk, due_at in jobs:
            timers.publish(DELIVER_TASK, [pk], due_at)

    transaction.on_commit(publish_all)
    return rows


def message(
    *,
    key: str,
    reason: str,
    kind: str,
    address: str,
    recipient: str,
    subject: str,
    body: str,
    headers: dict | None = None,
    incident: Incident | None = None,
    user=None,
    due_at: datetime | None = None,
) -> Notification:
    """Queue one message that carries its own text (a handoff, a status-page mail, a review
    reminder...). `key` names the recipient and the purpose: queueing it again is a no-op."""
    row = Notification(
        dedup_key=key[:200],
        reason=reason,
        kind=kind,
        address=address,
        recipient=recipient[:150],
        subject=" ".join(subject.split())[:255],
        body=body,
        headers=headers or {},
        incident=incident,
        user=user,
        due_at=due_at or timezone.now(),
    )
    return _queue_all([row])[0]


def _to_person(incident: Incident, user, route: Route, dedup_key: str, **fields) -> Notification:
    """A notification row reaching `user` by `route`."""
    return Notification(
        incident=incident,
        dedup_key=dedup_key,
        user=user,
        recipient=user.get_username(),
        contact_method=route.method,
        kind=route.kind,
        address=route.address,
        **fields,
    )


def person_pages(
    incident: Incident, users: Iterable, *, prefix: str, now: datetime, cache=None, **fields
) -> list[Notification]:
    """One unsaved row per route of each person (their rules, else their methods, else their
    account e-mail), keyed under `prefix` so a repeat of the same page is the same row."""
    rows = []
    for user in users:
        for route in routes_for(user, now, cache):
            key = f"{prefix}:user:{user.pk}:{route.kind}:{_digest(route.address)}"
            rows.append(
                _to_person(
                    incident, user, route, key, rule=route.rule, due_at=route.due_at, **fields
                )
            )
    return rows


def page(
    *,
    incident: Incident,
    users: Iterable,
    channels: Iterable[TeamChannel],
    rnd: int,
    step: int,
    now: datetime,
    cache: dict | None = None,
) -> list[Notification]:
    """Queue one step's pages: each person by their rules, each team channel once."""
    prefix = f"page:{incident.pk}:{rnd}:{step}"
    fields = {"reason": NotificationReason.PAGE, "round": rnd, "step": step}
    rows = person_pages(incident, users, prefix=prefix, now=now, cache=cache, **fields)
    for channel in channels:
        rows.append(
            Notification(
                incident=incident,
                dedup_key=f"{prefix}:channel:{channel.pk}",
                channel=channel,
                recipient=channel.name,
                kind=channel.kind,
                address=channel.address,
                due_at=now,
                **fields,
            )
        )
    return _queue_all(rows)


def remind(*, incident: Incident, users: Iterable, count: int, now: datetime) -> list[Notification]:
    """Queue the `count`-th status-update reminder to each person (first route only: a nudge)."""
    rows = []
    for user in users:
        routes = routes_for(user, now)
        if routes:
            key = f"reminder:{incident.pk}:{count}:user:{user.pk}"
            rows.append(
                _to_person(
                    incident, user, routes[0], key, reason=NotificationReason.REMINDER, due_at=now
                )
            )
    return _queue_all(rows)


def followup(
    *,
    incident: Incident,
    user,
    key: str,
    subject: str,
    body: str,
    now: datetime,
    reason: str = NotificationReason.FOLLOWUP,
) -> Notification | None:
    """Queue a follow-up reminder (post-mortem or action item), or another message that
    carries its own text (`reason`: the resolved notice), to a person's first route.

    `key` makes it once only: queuing the same key again leaves the first row as it is.
    Returns None when the person cannot be reached at all.
    """
    routes = routes_for(user, now)
    if not routes:
        return None
    row = _to_person(
        incident,
        user,
        routes[0],
        f"followup:{key}:user:{user.pk}",
        reason=reason,
        subject=subject[:255],
        body=body,
        due_at=now,
    )
    return _queue_all([row])[0]


# --- what a page says --------------------------------------------------------------------------


def _runbooks(incident: Incident) -> list[dict]:
    found = []
    for provider in hooks.providers(hooks.PAGE_RUNBOOKS):
        try:
            found += provider(incident)
        except Exception:
            # A runbook lookup must never stop a page.
            logger.exception("Runbook lookup failed for incident %s", incident.pk)
    return found[:1]


def admin_url(incident: Incident, page: str = "change") -> str:
    """Absolute URL of an incident's admin page ("change", or "post_update")."""
    try:
        path = reverse(f"admin:incidents_incident_{page}", args=[incident.pk])
    except Exception:
        # Resolving URLs imports every URLconf module; a page must go out even if one is broken.
        logger.exception("Could not reverse the admin URL of incident %s", incident.pk)
        path = f"/admin/incidents/incident/{incident.pk}/{page.replace('_', '-')}/"
    return settings.TOCSIN_BASE_URL + path


def _incident_context(incident: Incident) -> dict:
    return {
        "incident": incident,
        "severity": incident.severity,
        "services": ", ".join(s.name for s in incident.services.all()),
        "admin_url": admin_url(incident),
        "runbooks": _runbooks(incident),
        "cadence": humanize_duration(incident.severity.update_every)
        if incident.severity.update_every
        else "",
    }


def render(notification: Notification, shared: dict | None = None) -> tuple[str, str]:
    """(subject, body) of a notification. `shared` (per batch) keeps what every row about one
    incident shows (services, links, runbooks) from being looked up once per row."""
    if notification.subject or notification.reason in CARRIES_TEXT:
        return notification.subject, notification.body
    incident = notification.incident
    shared = {} if shared is None else shared
    if incident.pk not in shared:
        shared[incident.pk] = _incident_context(incident)
    context = {
        **shared[incident.pk],
        "notification": notification,
        "links": notification.links or {"open": shared[incident.pk]["admin_url"]},
    }
    if notification.reason == NotificationReason.REMINDER:
        # Customers follow public incidents: the reminder asks for a public update, prefilled.
        context["public"] = incident.updates.filter(public=True).exists()
        context["post_update_url"] = admin_url(incident, "post_update") + (
            "?public=1" if context["public"] else ""
        )
    paging = notification.reason in (NotificationReason.PAGE, NotificationReason.DIRECT)
    template = "page" if paging else "reminder"
    body = render_to_string(f"messages/{template}.txt", context).strip()
    subject = render_to_string(f"messages/{template}_subject.txt", context).strip()
    return " ".join(subject.split())[:255], body


def warm_up() -> None:
    """Load the URLconf and the message templates once, when a worker starts: the first page a
    fresh worker renders (inside the step's transaction) then costs no import."""
    from django.template.loader import get_template
    from django.urls import get_resolver

    try:
        get_resolver().url_patterns  # noqa: B018 (imports every URLconf module)
        for name in ("page", "page_subject", "reminder", "reminder_subject", "_links"):
            get_template(f"messages/{name}.txt")
        # Apprise loads its plugins on first use: pay that here, not in a page's first send.
        import apprise

        apprise.Apprise()
    except Exception:
        logger.exception("Warming up the page templates failed; pages render on first use.")
