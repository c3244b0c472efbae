"""Severity timers: the acknowledge target and the status-update cadence (IncidentDeadline rows).

Each fires once, by compare-and-set on its version, like escalation steps, and in the same lock
order: the incident first, then its escalation, then the timer row.
"""

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.locks import (
    is_retryable,
    lock_incident,
    lock_incident_of,
    lock_incidents,
    retry_on_conflict,
)
from incidents.core.texts import humanize_duration
from incidents.core.timeline import timeline_record
from incidents.models import Incident, Notification, NotificationReason, StatusUpdate
from incidents.models.escalation import (
    DeadlineKind,
    EscalationState,
    IncidentDeadline,
    IncidentEscalation,
)
from incidents.paging import deadlines as timers
from incidents.paging import delivery as notify
from incidents.paging.steps import VIA, fire_locked, locked_escalation

logger = logging.getLogger(__name__)

DEADLINE_TASK = "incidents.tasks.escalation_deadline"


def _deadline_task(deadline: IncidentDeadline) -> tuple[str, list, datetime]:
    return (DEADLINE_TASK, [deadline.pk, deadline.version], deadline.due_at)


def publish_deadline(deadline: IncidentDeadline) -> None:
    if deadline.done_at is None:
        timers.publish_on_commit(*_deadline_task(deadline))


def _wanted_deadlines(incident: Incident) -> list[tuple[str, datetime]]:
    severity = incident.severity
    wanted = []
    if incident.status == IncidentStatus.TRIGGERED:
        wanted.append(
            (DeadlineKind.ACKNOWLEDGE, incident.detected_at + severity.acknowledge_within)
        )
    if severity.update_every:
        wanted.append((DeadlineKind.UPDATE, incident.detected_at + severity.update_every))
    return wanted


def start_deadlines(incident: Incident) -> None:
    start_deadlines_many([incident])


def start_deadlines_many(incidents: list[Incident]) -> None:
    """Create the severity timers new incidents lack (the incidents locked by the caller), in
    one insert, and publish them on commit."""
    wanted = {(i.pk, kind): due_at for i in incidents for kind, due_at in _wanted_deadlines(i)}
    if not wanted:
        return
    have = set(
        IncidentDeadline.objects.filter(incident_id__in={pk for pk, _ in wanted}).values_list(
            "incident_id", "kind"
        )
    )
    created = [
        IncidentDeadline(incident_id=pk, kind=kind, due_at=due_at)
        for (pk, kind), due_at in wanted.items()
        if (pk, kind) not in have
    ]
    # Conflicts (a timer created meanwhile) are impossible: the incidents are locked.
    IncidentDeadline.objects.bulk_create(created, batch_size=500)
    timers.publish_many_on_commit([_deadline_task(d) for d in created if d.done_at is None])


@retry_on_conflict
def escalation_reopen(*, incident_id: int, now: datetime | None = None) -> None:
    """A reopened incident is being worked again: its status-update cadence resumes from now.

    Paging does not restart: reopening lands in investigating, which is acknowledged already.
    """
    now = now or timezone.now()
    incident = lock_incident(incident_id)
    if incident is None:
        return
    every = incident.severity.update_every
    if not every:
        return
    deadline, created = IncidentDeadline.objects.select_for_update().get_or_create(
        incident=incident, kind=DeadlineKind.UPDATE, defaults={"due_at": now + every}
    )
    if not created:
        deadline.done_at = None
        deadline.due_at = now + every
        deadline.version += 1
        deadline.save(update_fields=["done_at", "due_at", "version"])
    publish_deadline(deadline)


def _acknowledge_breached(
    deadline: IncidentDeadline, escalation: IncidentEscalation | None, now: datetime
) -> None:
    deadline.done_at = now
    incident = deadline.incident
    if incident.status != IncidentStatus.TRIGGERED:
        return
    if incident.acknowledge_due_at > now:
        # The severity was lowered since the timer was set: wait for the new target.
        deadline.done_at = None
        deadline.due_at = incident.acknowledge_due_at
        return
    incident.acknowledge_breached_at = now
    incident.save(update_fields=["acknowledge_breached_at", "updated_at"])
    target = humanize_duration(incident.severity.acknowledge_within)
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message=f"Acknowledge target missed ({incident.severity.key}: {target}): "
        + ("escalating now." if escalation else "no escalation left to climb."),
        after={"acknowledge_breached_at": now.isoformat()},
    )
    if escalation is not None:
        fire_locked(escalation, now)


def _update_due(deadline: IncidentDeadline, now: datetime) -> None:
    incident = deadline.incident
    every = incident.severity.update_every
    if not incident.is_open or not every:
        deadline.done_at = now
        return
    # Once customers follow the incident on the status page, only public updates keep it fresh.
    updates = StatusUpdate.objects.filter(incident=incident)
    public = updates.filter(public=True).exists()
    if public:
        updates = updates.filter(public=True)
    last = updates.order_by("-created_at").values_list("created_at", flat=True).first()
    last = max(filter(None, [last, incident.detected_at]))
    if last + every > now:
        deadline.due_at = last + every
        return
    deadline.fired_count += 1
    deadline.due_at = now + every
    if incident.commander is not None:
        people = [incident.commander]
    else:
        User = get_user_model()
        paged = Notification.objects.filter(
            incident=incident,
            reason__in=[NotificationReason.PAGE, NotificationReason.DIRECT],
            user__isnull=False,
        ).values_list("user_id", flat=True)
        people = list(User.objects.filter(pk__in=paged, is_active=True).order_by("username"))
    queued = notify.remind(incident=incident, users=people, count=deadline.fired_count, now=now)
    names = sorted({n.recipient for n in queued})
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message=f"No {'public ' if public else ''}status update for "
        f"{humanize_duration(now - last)} (cadence {humanize_duration(every)}): "
        + (
            f"reminded {', '.join(names)}."
            if names
            else "nobody to remind (no commander, nobody paged)."
        ),
    )


def _fire_deadline(incident_id: int, filters: dict, now: datetime) -> bool:
    """Fire one due timer of an incident this transaction has locked."""
    escalation = locked_escalation(incident_id, state=EscalationState.ACTIVE)
    deadline = (
        IncidentDeadline.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity", "incident__commander")
        .filter(incident_id=incident_id, done_at__isnull=True, due_at__lte=now, **filters)
        .first()
    )
    if deadline is None:
        return False
    if deadline.kind == DeadlineKind.ACKNOWLEDGE:
        _acknowledge_breached(deadline, escalation, now)
    else:
        _update_due(deadline, now)
    deadline.version += 1
    deadline.save(update_fields=["due_at", "done_at", "fired_count", "version"])
    publish_deadline(deadline)
    return True


@retry_on_conflict
def escalation_fire_deadline(
    *, deadline_id: int, expected_version: int | None = None, now: datetime | None = None
) -> bool:
    """Fire a due severity timer once (compare-and-set on its version, like steps)."""
    now = now or timezone.now()
    incident_id = lock_incident_of(IncidentDeadline, deadline_id)
    if incident_id is None:
        return False
    filters = {"pk": deadline_id}
    if expected_version is not None:
        filters["version"] = expected_version
    return _fire_deadline(incident_id, filters, now)


def deadline_pending(deadline_id: int, version: int) -> datetime | None:
    return (
        IncidentDeadline.objects.filter(pk=deadline_id, version=version, done_at__isnull=True)
        .values_list("due_at", flat=True)
        .first()
    )


@retry_on_conflict
def escalation_fire_due_deadlines(*, limit: int = 20, failed: set[int] | None = None) -> int:
    """Fire the due timers of up to `limit` incidents nobody else holds (SKIP LOCKED), each
    once, in one transaction; one that fails is logged and left out of the next batches."""
    now = timezone.now()
    due = IncidentDeadline.objects.filter(done_at__isnull=True, due_at__lte=now).exclude(
        pk__in=failed or ()
    )
    incidents = Incident.objects.filter(pk__in=due.values("incident_id")).order_by("pk")
    ids = lock_incidents(incidents, limit=limit)
    fired = 0
    for pk, incident_id in (
        due.filter(incident_id__in=ids).order_by("due_at").values_list("pk", "incident_id")
    ):
        try:
            with transaction.atomic():
                fired += _fire_deadline(incident_id, {"pk": pk}, now)
        except Exception as error:
            if is_retryable(error):
                raise
            logger.exception("Could not fire deadline %s", pk)
            if failed is not None:
                failed.add(pk)
    return fired
