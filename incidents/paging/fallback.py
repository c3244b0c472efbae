"""Paging beyond the policy: so that no incident pages nobody.

An escalation policy pages the incidents it covers (see incidents.paging.engine). This module
covers the rest: an incident that nothing covered starts escalating as soon as something does
(a service with a policy, a severity route, the default policy); "Page someone" pages people or
the on-call of schedules by hand and makes them responders; a person added as a responder is
told; the people paged hear when the incident resolves; and the admin can tell which triggered
incidents nobody is being paged for.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from incidents.core import hooks
from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.errors import DomainError, IllegalTransition
from incidents.core.locks import lock_existing, retry_on_conflict
from incidents.core.responders import incident_add_responder
from incidents.core.texts import humanize_duration
from incidents.core.timeline import actor_label, timeline_record
from incidents.models import (
    EscalationState,
    Incident,
    IncidentEscalation,
    Notification,
    NotificationReason,
    NotificationStatus,
    Responder,
    Schedule,
)
from incidents.oncall.compute import oncall_users
from incidents.paging.delivery import _queue_all, admin_url, followup, person_pages
from incidents.paging.engine import escalation_start, policy_for

VIA = "Paging"
# Notifications that ask a person to come and work the incident.
PAGING_REASONS = (NotificationReason.PAGE, NotificationReason.DIRECT)
# A page on its way or delivered: someone is being reached.
REACHING = (NotificationStatus.QUEUED, NotificationStatus.SENDING, NotificationStatus.SENT)


# --- starting late -----------------------------------------------------------------------------


def escalation_start_uncovered(*, incident_ids: Iterable[int] | None = None) -> int:
    """Start the escalation of triggered incidents that had none and that a policy covers now.

    Called when coverage may have changed: a default policy or a severity route set, an
    incident's services or severity changed. The clock is the incident's detection, so a step
    whose delay has passed pages at once. Returns how many started.
    """
    found = Incident.objects.filter(
        status=IncidentStatus.TRIGGERED, escalation__isnull=True
    ).select_related("severity")
    if incident_ids is not None:
        found = found.filter(pk__in=list(incident_ids))
    started = 0
    for incident in found.order_by("detected_at"):
        if policy_for(incident) is not None and escalation_start(incident_id=incident.pk):
            started += 1
    return started


def _on_service_policy_changed(service_id: int) -> None:
    """A service's policy was set or changed: its incidents that nothing covered start
    escalating once the change commits."""
    ids = list(Incident.objects.filter(services=service_id).values_list("pk", flat=True))
    transaction.on_commit(lambda: escalation_start_uncovered(incident_ids=ids))


# --- who is being paged ------------------------------------------------------------------------


def with_paging_state(incidents: QuerySet, *, alias: bool = False) -> QuerySet:
    """Annotate `is_paged`, `escalation_waiting` and `page_failing` (no extra query per row);
    with `alias`, only make them available to filters (for counts)."""
    pages = Notification.objects.filter(incident=OuterRef("pk"), reason__in=PAGING_REASONS)
    add = incidents.alias if alias else incidents.annotate
    return add(
        is_paged=Exists(pages.filter(status__in=REACHING)),
        escalation_waiting=Exists(
            IncidentEscalation.objects.filter(
                incident=OuterRef("pk"), state=EscalationState.ACTIVE, last_fired_at__isnull=True
            )
        ),
        page_failing=Exists(
            pages.filter(attempts__gte=1)
            .exclude(status__in=[NotificationStatus.SENT, NotificationStatus.CANCELLED])
            .exclude(last_error="")
        ),
    )


# The same test as `nobody_paged`, in SQL, over `with_paging_state`.
NOBODY_PAGED = Q(
    status=IncidentStatus.TRIGGERED,
    severity__pages=True,
    is_paged=False,
    escalation_waiting=False,
)


def nobody_paged(incident: Incident) -> bool:
    """A triggered incident of a paging severity that no page is reaching, and whose
    escalation (if any) has no first step still to come. Needs `with_paging_state`."""
    return (
        incident.status == IncidentStatus.TRIGGERED
        and incident.severity.pages
        and not incident.is_paged
        and not incident.escalation_waiting
    )


def nobody_paged_reason(incident: Incident) -> str | None:
    """Why nobody is being paged for `incident`, as the red banner says it (None: someone is)."""
    row = with_paging_state(Incident.objects.filter(pk=incident.pk).select_related("severity"))
    incident = row.first()
    if incident is None or not nobody_paged(incident):
        return None
    escalation = IncidentEscalation.objects.filter(incident=incident).first()
    if escalation is None:
        return (
            "No escalation policy covers it: none for its severity or its services, "
            "and no default policy is set."
        )
    if Notification.objects.filter(
        incident=incident, reason__in=PAGING_REASONS, status=NotificationStatus.FAILED
    ).exists():
        return "Every page sent for it failed."
    return (
        f"Its escalation ({escalation.policy_name}) found nobody to page: "
        "nobody on call, or no way to reach them."
    )


# --- paging by hand ----------------------------------------------------------------------------


def _queue_direct(
    incident: Incident, users: Iterable, *, prefix: str, note: str, now: datetime
) -> list[Notification]:
    """Page each person by all their routes, with `note` saying why."""
    rows = person_pages(
        incident, users, prefix=prefix, now=now, reason=NotificationReason.DIRECT, body=note
    )
    return _queue_all(rows)


def _unreachable(users: Iterable, queued: list[Notification]) -> list[str]:
    reached = {n.user_id for n in queued}
    return [u.get_username() for u in users if u.pk not in reached]


@retry_on_conflict
def incident_page(
    *,
    incident: Incident,
    users: Iterable = (),
    schedules: Iterable[Schedule] = (),
    message: str = "",
    actor=None,
    via: str | None = None,
) -> list[Notification]:
    """Page people and the on-call of schedules now, and make them responders.

    Pages of this kind are wanted until the incident resolves (acknowledging it does not
    cancel them: someone asked for these people). Returns the notifications queued.
    """
    users, schedules = list(users), list(schedules)
    if not users and not schedules:
        raise DomainError("Name at least one person or schedule to page.", field="users")
    incident = lock_existing(incident)  # first, as every change to an incident's paging
    if incident.status == IncidentStatus.RESOLVED:
        raise IllegalTransition(f"{incident.reference} is resolved: reopen it to page anyone.")
    now = timezone.now()
    people = {user.pk: user for user in users if user.is_active}
    notes = []
    for schedule in schedules:
        oncall = oncall_users(schedule, now)
        if not oncall:
            notes.append(f"nobody is on call for {schedule.name}")
        for user in oncall:
            people.setdefault(user.pk, user)
    who = actor_label(actor, via)
    message = (message or "").strip()
    note = f"{who} paged you." + (f"\n{message}" if message else "")
    queued = _queue_direct(
        incident,
        people.values(),
        prefix=f"direct:{incident.pk}:{uuid.uuid4().hex}",
        note=note,
        now=now,
    )
    already = set(
        Responder.objects.filter(incident=incident, user__in=list(people)).values_list(
            "user_id", flat=True
        )
    )
    for user in people.values():
        if user.pk not in already:
            incident_add_responder(
                incident=incident, user=user, actor=actor, via=via, announce=False
            )
    missing = _unreachable(people.values(), queued)
    if missing:
        notes.append("no contact method for " + ", ".join(missing))
    names = sorted({n.recipient for n in queued})
    text = f"{who} paged {', '.join(names)}" if names else f"{who} paged nobody"
    text += f": {message}" if message else "."
    if notes:
        detail = "; ".join(notes)
        text += f" {detail[:1].upper()}{detail[1:]}."
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        actor=actor,
        via=via,
        message=text,
        after={"paged": names, "schedules": [s.pk for s in schedules]},
    )
    return queued


# --- lifecycle hooks ---------------------------------------------------------------------------


def _on_routing_changed(incident_id: int) -> None:
    escalation_start_uncovered(incident_ids=[incident_id])


def _on_responder_added(incident_id: int, user_id: int, actor_id: int | None) -> None:
    """Tell a person added as a responder (unless they added themselves)."""
    if user_id == actor_id:
        return
    incident = Incident.objects.select_related("severity").get(pk=incident_id)
    User = get_user_model()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not incident.is_open:
        return
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    who = actor_label(actor) if actor else "Tocsin"
    queued = _queue_direct(
        incident,
        [user],
        prefix=f"responder:{incident.pk}:{uuid.uuid4().hex}",
        note=f"{who} added you as a responder.",
        now=timezone.now(),
    )
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message=f"Paged {user.get_username()}, added as a responder."
        if queued
        else f"Could not tell {user.get_username()}: no contact method.",
        after={"paged": [user.get_username()] if queued else []},
    )


def _on_status_changed(incident_id: int, before: str, after: str) -> None:
    if after == IncidentStatus.RESOLVED:
        resolved_notices(incident_id=incident_id)


def resolved_notices(*, incident_id: int) -> list[Notification]:
    """Tell everyone whose page was delivered for the incident that it is resolved."""
    incident = Incident.objects.select_related("severity").get(pk=incident_id)
    paged = Notification.objects.filter(
        incident=incident,
        reason__in=PAGING_REASONS,
        status=NotificationStatus.SENT,
        user__isnull=False,
    ).values("user_id")
    people = get_user_model().objects.filter(pk__in=paged, is_active=True).order_by("username")
    now = timezone.now()
    stamp = int((incident.resolved_at or now).timestamp())
    subject = f"[Tocsin] {incident.reference} resolved: {incident.title}"
    body = (
        f"{incident.reference} ({incident.severity.key}) {incident.title} was resolved after "
        f"{humanize_duration(incident.age(now))}. You were paged for it; nothing more is needed "
        f"from you.\n\n{admin_url(incident)}"
    )
    queued = [
        row
        for user in people
        if (
            row := followup(
                incident=incident,
                user=user,
                key=f"resolved:{incident.pk}:{stamp}",
                subject=subject,
                body=body,
                now=now,
                reason=NotificationReason.RESOLVED,
            )
        )
    ]
    if queued:
        timeline_record(
            incident=incident,
            kind=TimelineKind.NOTIFICATION,
            via=VIA,
            message="Telling "
            + ", ".join(sorted(n.recipient for n in queued))
            + f" that {incident.reference} is resolved.",
        )
    return queued


def register_hooks() -> None:
    """Called from IncidentsConfig.ready(), after the escalation's own hooks."""
    hooks.register(hooks.INCIDENT_ROUTING_CHANGED, _on_routing_changed)
    hooks.register(hooks.RESPONDER_ADDED, _on_responder_added)
    hooks.register(hooks.INCIDENT_STATUS_CHANGED, _on_status_changed)
    hooks.register(hooks.SERVICE_POLICY_CHANGED, _on_service_policy_changed)
