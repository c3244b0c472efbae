"""Notifications: queueing pages and reminders as rows, and delivering them (issue #5).

A notification is queued as a row (its `due_at` is its timer: personal rules delay some, retries
push it back), then delivered by `notification_deliver` under a row lock taken with SKIP LOCKED,
so a task and the sweep never send the same row twice. Email goes through Django's email
backend; webhooks are a Slack-compatible JSON POST (`{"text": ...}`) with httpx, a timeout and
no redirects to another host.
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.core import hooks, outbound
from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.contacts import check_contact_address, mask_address
from incidents.core.errors import DomainError
from incidents.core.texts import humanize_duration, slack_escape
from incidents.core.timeline import actor_label, timeline_record
from incidents.models import (
    ContactKind,
    ContactMethod,
    Incident,
    Notification,
    NotificationReason,
    NotificationRule,
    NotificationStatus,
    TeamChannel,
)
from incidents.paging import deadlines as timers

logger = logging.getLogger(__name__)

VIA = "Notifications"
DELIVER_TASK = "incidents.tasks.notification_deliver"


def max_attempts() -> int:
    return settings.TOCSIN_NOTIFY_MAX_ATTEMPTS


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the `attempts`-th failure: base, 2 x base, 4 x base, ... capped."""
    base = settings.TOCSIN_NOTIFY_RETRY_SECONDS
    cap = settings.TOCSIN_NOTIFY_RETRY_MAX_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def webhook_timeout() -> float:
    return settings.TOCSIN_WEBHOOK_TIMEOUT_SECONDS


# --- contact methods ---------------------------------------------------------------------------


@transaction.atomic
def contact_method_create(
    *, user, kind: str, address: str, label: str = "", notify_after: timedelta | None = None
) -> ContactMethod:
    """Add a contact method; with `notify_after`, also a personal rule using it."""
    address = (address or "").strip()
    check_contact_address(kind, address)
    if ContactMethod.objects.filter(user=user, kind=kind, address=address).exists():
        raise DomainError(
            f"{user.get_username()} already has this {kind} address.", field="address"
        )
    method = ContactMethod.objects.create(user=user, kind=kind, address=address, label=label)
    if notify_after is not None:
        if notify_after < timedelta(0):
            raise DomainError("The delay cannot be negative.", field="notify_after_seconds")
        order = NotificationRule.objects.filter(user=user).count()
        NotificationRule.objects.create(
            user=user, contact_method=method, order=order, delay=notify_after
        )
    return method


def account_email_notice(user) -> str:
    """What to tell someone whose contact methods now stand in for their account e-mail.

    Without contact methods a person is paged at their account address; their first method
    takes its place. That must never happen unsaid (empty: nothing to tell)."""
    if not user.email:
        return ""
    methods = set(user.contact_methods.values_list("kind", flat=True))
    if not methods or ContactKind.EMAIL in methods:
        return ""
    return (
        f"Pages for {user.get_username()} now go to their contact methods instead of "
        f"{mask_address(user.email)}: that address gets a page only when every "
        "method fails on its first try. Add an e-mail contact method to keep both."
    )


# --- queueing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    kind: str
    address: str
    due_at: datetime
    method: ContactMethod | None = None
    rule: NotificationRule | None = None


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


@dataclass(frozen=True)
class _Reach:
    kind: str
    address: str
    delay: timedelta
    method: ContactMethod | None
    rule: NotificationRule | None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _queue_all(rows: list[Notification]) -> list[Notification]:
    """Insert the rows in one statement; a row whose dedup key exists already is left as it was
    (the upsert only touches `updated_at`) and delivering it again is a no-op."""
    if not rows:
        return []
    Notification.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["dedup_key"], update_fields=["updated_at"]
    )
    jobs = [(row.pk, row.due_at) for row in rows]

    def publish_all():
        for pk, due_at in jobs:
            timers.publish(DELIVER_TASK, [pk], due_at)

    transaction.on_commit(publish_all)
    return rows


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
    rows = person_pages(
        incident,
        users,
        prefix=prefix,
        now=now,
        cache=cache,
        reason=NotificationReason.PAGE,
        round=rnd,
        step=step,
    )
    for channel in channels:
        rows.append(
            Notification(
                incident=incident,
                dedup_key=f"{prefix}:channel:{channel.pk}",
                reason=NotificationReason.PAGE,
                channel=channel,
                recipient=channel.name,
                kind=channel.kind,
                address=channel.address,
                round=rnd,
                step=step,
                due_at=now,
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


# --- messages ----------------------------------------------------------------------------------


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


def render(notification: Notification) -> tuple[str, str]:
    """(subject, body) of a notification."""
    if notification.reason in (NotificationReason.FOLLOWUP, NotificationReason.RESOLVED):
        return notification.subject, notification.body
    incident = notification.incident
    context = {
        "notification": notification,
        "incident": incident,
        "severity": incident.severity,
        "services": ", ".join(s.name for s in incident.services.all()),
        "admin_url": admin_url(incident),
        "runbooks": _runbooks(incident),
        "cadence": humanize_duration(incident.severity.update_every)
        if incident.severity.update_every
        else "",
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
    return " ".join(subject.split()), body


# --- delivery ----------------------------------------------------------------------------------


class DeliveryError(Exception):
    pass


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def post_webhook(url: str, text: str, *, markup: bool = False) -> None:
    """POST `{"text": ...}` to a destination the outbound policy allows (checked on what the
    host resolves to now); follows at most 3 redirects, and only on the same host. A refusal
    answer is recorded by its status only: its body may echo the secret URL. `text` is plain
    text, escaped for Slack's markup here; pass `markup=True` for text already built as
    markup (every piece from outside escaped with `slack_escape`)."""
    origin = httpx.URL(url)
    payload = {"text": text if markup else slack_escape(text)}
    with httpx.Client(timeout=webhook_timeout(), follow_redirects=False) as client:
        response, current = outbound.post(client, origin, json=payload), origin
        for _ in range(3):
            if not response.is_redirect:
                break
            current = current.join(response.headers.get("location", ""))
            if not _same_origin(origin, current):
                raise DeliveryError(f"refused redirect to another host: {current.host}")
            response = outbound.post(client, current, json=payload)
        if response.is_redirect:
            raise DeliveryError("too many redirects")
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code} {response.reason_phrase}"[:100])


def send(kind: str, address: str, subject: str, body: str) -> None:
    if kind == ContactKind.EMAIL:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address], fail_silently=False)
    else:
        post_webhook(address, f"*{subject}*\n{body}")


def _describe(error: Exception) -> str:
    text = str(error) or error.__class__.__name__
    return f"{error.__class__.__name__}: {text}"[:2000]


def _still_wanted(notification: Notification) -> bool:
    if notification.reason in (NotificationReason.FOLLOWUP, NotificationReason.RESOLVED):
        return True  # both are about resolved incidents
    incident = notification.incident
    if incident.status == IncidentStatus.RESOLVED:
        return False
    return (
        notification.reason != NotificationReason.PAGE
        or incident.status == IncidentStatus.TRIGGERED
    )


def _deliver_locked(notification: Notification, now: datetime) -> str:
    label = f"{notification.get_reason_display().lower()} to {notification.recipient} by {notification.kind}"
    if not _still_wanted(notification):
        notification.status = NotificationStatus.CANCELLED
        notification.save(update_fields=["status", "updated_at"])
        return notification.status
    try:
        subject, body = render(notification)
        send(notification.kind, notification.address, subject, body)
    except Exception as error:  # every failure is recorded on the row and retried
        notification.attempts += 1
        notification.last_error = _describe(error)
        logger.warning("Notification %s failed: %s", notification.pk, notification.last_error)
        if notification.attempts >= max_attempts():
            notification.status = NotificationStatus.FAILED
            timeline_record(
                incident=notification.incident,
                kind=TimelineKind.NOTIFICATION,
                via=VIA,
                message=f"The {label} ({mask_address(notification.address)}) failed after "
                f"{notification.attempts} attempts: {notification.last_error}",
                after={"notification": notification.pk, "status": notification.status},
            )
        else:
            notification.due_at = now + retry_delay(notification.attempts)
        notification.save(
            update_fields=["attempts", "last_error", "status", "due_at", "updated_at"]
        )
        if notification.attempts == 1:
            _email_fallback(notification, now)
        if notification.status == NotificationStatus.QUEUED:
            timers.publish_on_commit(DELIVER_TASK, [notification.pk], notification.due_at)
        return notification.status
    notification.attempts += 1
    notification.status = NotificationStatus.SENT
    notification.sent_at = timezone.now()
    notification.save(update_fields=["attempts", "status", "sent_at", "updated_at"])
    timeline_record(
        incident=notification.incident,
        kind=TimelineKind.NOTIFICATION,
        via=VIA,
        message=f"Sent {label} ({mask_address(notification.address)}).",
        after={"notification": notification.pk, "status": notification.status},
    )
    return notification.status


def _email_fallback(failed: Notification, now: datetime) -> Notification | None:
    """When a page has failed on every method of the person and none of them was email, email
    their account address too (once per page): a broken webhook must not silence a page."""
    if (
        failed.reason not in (NotificationReason.PAGE, NotificationReason.DIRECT)
        or failed.user_id is None
        or failed.kind == ContactKind.EMAIL
    ):
        return None
    # "<page>:user:<pk>:<kind>:<digest>": the rows of one page to one person share the head.
    group = failed.dedup_key.rsplit(":", 2)[0]
    siblings = list(
        Notification.objects.filter(dedup_key__startswith=f"{group}:").exclude(pk=failed.pk)
    )
    if any(
        row.kind == ContactKind.EMAIL or row.status == NotificationStatus.SENT or not row.attempts
        for row in siblings
    ):
        return None
    user = failed.user
    if not user.is_active or not user.email:
        return None
    row = Notification(
        incident=failed.incident,
        dedup_key=f"{group}:fallback-email",
        reason=failed.reason,
        user=user,
        recipient=failed.recipient,
        kind=ContactKind.EMAIL,
        address=user.email,
        round=failed.round,
        step=failed.step,
        body=failed.body,
        due_at=now,
    )
    _queue_all([row])
    timeline_record(
        incident=failed.incident,
        kind=TimelineKind.NOTIFICATION,
        via=VIA,
        message=f"Every way to reach {failed.recipient} failed for this page "
        f"({failed.last_error[:200]}): emailing {user.email} as well.",
        after={"notification": row.pk, "fallback_for": failed.pk},
    )
    return row


def _locked(**filters) -> Notification | None:
    return (
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("incident", "incident__severity")
        .filter(**filters)
        .first()
    )


def notification_deliver(*, notification_id: int, now: datetime | None = None) -> str | None:
    """Try to send one queued, due notification. Returns its new status, or None when there was
    nothing to do (sent, cancelled, not due yet, or being sent by someone else right now)."""
    now = now or timezone.now()
    with transaction.atomic():
        notification = _locked(
            pk=notification_id, status=NotificationStatus.QUEUED, due_at__lte=now
        )
        if notification is None:
            return None
        return _deliver_locked(notification, now)


def notification_deliver_next(due_before: datetime | None = None) -> str | None:
    """Deliver the most overdue queued notification nobody else holds (due before
    `due_before`, default now): the sweep's unit of delivery."""
    now = timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident", "incident__severity")
            .due(due_before or now)
            .order_by("due_at")
            .first()
        )
        if notification is None:
            return None
        return _deliver_locked(notification, now)


def notification_deliver_and_due(
    *, notification_id: int, budget_seconds: float = 1.0
) -> str | None:
    """The task's work: deliver its own row, then other due rows for up to `budget_seconds`, so
    a burst of pages is sent by whichever workers are free instead of one task per page."""
    outcome = notification_deliver(notification_id=notification_id)
    if outcome is not None:
        stop_at = timezone.now() + timedelta(seconds=budget_seconds)
        while timezone.now() < stop_at and notification_deliver_next() is not None:
            pass
    return outcome


def notification_due_at(notification_id: int) -> datetime | None:
    return (
        Notification.objects.filter(pk=notification_id, status=NotificationStatus.QUEUED)
        .values_list("due_at", flat=True)
        .first()
    )


@transaction.atomic
def notification_retry(
    *, notification: Notification, actor=None, via: str | None = None
) -> Notification:
    """Send a failed or cancelled notification again now, with a fresh set of attempts.

    A no-op for one still queued; one already sent is refused (it arrived).
    """
    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=notification.pk)
    )
    if notification.status == NotificationStatus.QUEUED:
        return notification
    if notification.status == NotificationStatus.SENT:
        raise DomainError(f"The notification to {notification.recipient} was sent already.")
    before = notification.status
    notification.status = NotificationStatus.QUEUED
    notification.attempts = 0
    notification.due_at = timezone.now()
    notification.save(update_fields=["status", "attempts", "due_at", "updated_at"])
    timeline_record(
        incident=notification.incident,
        kind=TimelineKind.NOTIFICATION,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} retried the {notification.kind} to {notification.recipient}.",
        before={"status": before},
        after={"notification": notification.pk, "status": notification.status},
    )
    timers.publish_on_commit(DELIVER_TASK, [notification.pk], notification.due_at)
    return notification
