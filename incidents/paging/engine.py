"""Escalation: who gets paged for an incident, in which order, and when (issue #5).

When an incident opens, its policy (incidents.paging.routing) is copied onto an
`IncidentEscalation` row, in the incident's own transaction (a required hook: an incident whose
escalation cannot start does not open). Its steps fire once each (incidents.paging.steps), the
severity timers likewise (incidents.paging.cadence), and the beat sweep catches up on both and
audits for triggered incidents left without an escalation (incidents.paging.sweep).
Acknowledging stops the climb, resolving stops everything. Every function here locks the
incident first, then its escalation, timers and notifications (incidents.core.locks).

The names callers use (`policy_for`, `escalation_fire_step`, `FIRE_TASK`, ...) stay importable
from here.
"""

import copy
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone

from incidents.core import hooks
from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.errors import DomainError, IllegalTransition
from incidents.core.locks import lock_incident, retry_on_conflict
from incidents.core.texts import humanize_duration
from incidents.core.timeline import timeline_entry, timeline_record, timeline_record_many
from incidents.models import (
    DeadlineKind,
    EscalationState,
    Incident,
    IncidentDeadline,
    IncidentEscalation,
    Notification,
    NotificationReason,
    NotificationStatus,
)
from incidents.paging import cadence, steps
from incidents.paging import delivery as notify
from incidents.paging.cadence import (
    DEADLINE_TASK,
    deadline_pending,
    escalation_fire_deadline,
    escalation_fire_due_deadlines,
    escalation_reopen,
)
from incidents.paging.round_robin import round_robin_pick
from incidents.paging.routing import policies_for, policy_for, policy_snapshot
from incidents.paging.steps import (
    FIRE_TASK,
    VIA,
    Lookups,
    escalation_fire_due,
    escalation_fire_due_for,
    escalation_fire_step,
    escalation_pending,
)

__all__ = [
    "DEADLINE_TASK",
    "FIRE_TASK",
    "Lookups",
    "deadline_pending",
    "escalation_acknowledge",
    "escalation_escalate_now",
    "escalation_fire_deadline",
    "escalation_fire_due",
    "escalation_fire_due_deadlines",
    "escalation_fire_due_for",
    "escalation_fire_step",
    "escalation_pending",
    "escalation_reopen",
    "escalation_resolve",
    "escalation_start",
    "escalation_start_many",
    "notify",
    "policy_for",
    "policy_snapshot",
    "register_hooks",
]

logger = logging.getLogger(__name__)

# What the timeline records when no policy covers an incident: the sweep's audit leaves such an
# incident alone ("nobody to page" is its escalation state).
NOBODY_TO_PAGE = {"paging": "nobody"}


# --- starting ----------------------------------------------------------------------------------


@retry_on_conflict
def escalation_start(*, incident_id: int, now: datetime | None = None) -> IncidentEscalation | None:
    """Copy the incident's policy onto it and schedule step 1. Safe to call twice.

    The escalation clock starts at detection (for an incident opened now, that is now).
    """
    return _start_many([incident_id], now=now).get(incident_id)


@retry_on_conflict
def escalation_start_many(
    *, incident_ids: Iterable[int], now: datetime | None = None
) -> dict[int, IncidentEscalation | None]:
    """`escalation_start` for many incidents at once (an ingest batch opening thousands): a
    fixed number of queries for any number of incidents, except the round-robin turns (one
    lock per incident that takes one). Returns each incident's escalation (None: none)."""
    return _start_many(incident_ids, now=now)


def _start_many(
    incident_ids: Iterable[int], *, now: datetime | None
) -> dict[int, IncidentEscalation | None]:
    ids = sorted(set(incident_ids))
    # The incidents first (in id order, as every batch locks them), then their escalations.
    incidents = list(
        Incident.objects.select_for_update(no_key=True, of=("self",))
        .select_related("severity")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    opened = [incident for incident in incidents if incident.is_open]
    started: dict[int, IncidentEscalation | None] = {pk: None for pk in ids}
    for existing in IncidentEscalation.objects.filter(incident__in=opened):
        started[existing.incident_id] = existing
    fresh = [incident for incident in opened if started[incident.pk] is None]
    cadence.start_deadlines_many(fresh)
    triggered = [incident for incident in fresh if incident.status == IncidentStatus.TRIGGERED]
    policies = policies_for(triggered)
    snapshots: dict[int, dict | None] = {}
    escalations, entries = [], []
    for incident in triggered:
        policy = policies[incident.pk]
        if policy is not None and policy.pk not in snapshots:
            snapshots[policy.pk] = policy_snapshot(policy)
        snapshot = snapshots[policy.pk] if policy is not None else None
        if not snapshot or not snapshot["steps"]:
            entries.append(
                timeline_entry(
                    incident=incident,
                    kind=TimelineKind.ESCALATION,
                    via=VIA,
                    message="No escalation policy applies (none for the severity or the services): nobody is paged.",
                    after=NOBODY_TO_PAGE,
                )
            )
            continue
        # Each escalation keeps a copy of its own (round robin writes its turn into it).
        snapshot = copy.deepcopy(snapshot)
        if not incident.severity.pages:
            # "Notify only" severities tell the first step once and never climb.
            snapshot = {**snapshot, "steps": snapshot["steps"][:1], "repeat": 0}
        # Only the steps this incident can reach take a round-robin turn.
        turns = round_robin_pick(snapshot)
        start = now or incident.detected_at
        first = timedelta(seconds=snapshot["steps"][0]["delay"])
        escalation = IncidentEscalation(
            incident=incident,
            policy=policy,
            policy_name=policy.name,
            snapshot=snapshot,
            next_at=start + first,
            started_at=start,
        )
        escalations.append(escalation)
        when = "now" if not first else f"in {humanize_duration(first)}"
        message = f"Escalation started with policy {policy.name}: step 1 of {len(snapshot['steps'])} pages {when}."
        if turns:
            message += f" Round robin: {', '.join(turns)} takes this incident."
        entries.append(
            timeline_entry(
                incident=incident,
                kind=TimelineKind.ESCALATION,
                via=VIA,
                message=message,
                after={"policy": policy.pk, "next_at": escalation.next_at.isoformat()}
                | ({"round_robin": turns} if turns else {}),
            )
        )
    IncidentEscalation.objects.bulk_create(escalations, batch_size=500)
    timeline_record_many(entries)
    steps.publish_fire_many(escalations)
    for escalation in escalations:
        started[escalation.incident_id] = escalation
    return started


# --- firing at once -------------------------------------------------------------------------


@retry_on_conflict
def escalation_escalate_now(
    *, incident: Incident, actor=None, via: str | None = None
) -> IncidentEscalation:
    """Fire the pending step at once ("Escalate now" in the admin and the API).

    An incident that nothing covered when it opened starts escalating now if a policy covers it
    since (the default policy, say); one whose escalation is exhausted while still triggered
    pages its last step again.
    """
    now = timezone.now()
    locked_incident = lock_incident(incident.pk)
    if locked_incident is None:
        raise DomainError(f"{incident.reference} no longer exists.")
    incident = locked_incident
    escalation = steps.locked_escalation(incident.pk)
    if escalation is None and escalation_start(incident_id=incident.pk, now=now) is not None:
        escalation = steps.locked_escalation(incident.pk)
    if escalation is None and incident.status != IncidentStatus.TRIGGERED:
        raise IllegalTransition(
            f"{incident.reference} has no escalation and is past triggered: "
            "there is no step to fire. Page someone instead."
        )
    if escalation is None:
        raise DomainError(
            f"{incident.reference} has no escalation: no policy covers it (none for its "
            "severity or services, and no default policy). Page someone instead, or set "
            "a default escalation policy."
        )
    if (
        escalation.state == EscalationState.EXHAUSTED
        and escalation.incident.status == IncidentStatus.TRIGGERED
    ):
        # A fresh round number keeps these pages apart from the ones already sent.
        escalation.state = EscalationState.ACTIVE
        escalation.step = len(escalation.steps) - 1
        escalation.round = max(escalation.round + 1, escalation.rounds)
        escalation.next_at = now
        escalation.finished_at = None
    if escalation.state != EscalationState.ACTIVE:
        raise IllegalTransition(
            f"{incident.reference}'s escalation is {escalation.get_state_display().lower()}: "
            "there is no pending step to fire."
        )
    timeline_record(
        incident=escalation.incident,
        kind=TimelineKind.ESCALATION,
        actor=actor,
        via=via,
        message=f"Escalate now: step {escalation.step + 1} fires without waiting.",
    )
    steps.fire_locked(escalation, now)
    return escalation


# --- stopping ----------------------------------------------------------------------------------


def _cancel_queued(incident_id: int, reasons: Iterable[str]) -> int:
    return Notification.objects.filter(
        incident_id=incident_id, status=NotificationStatus.QUEUED, reason__in=list(reasons)
    ).update(status=NotificationStatus.CANCELLED, updated_at=timezone.now())


@retry_on_conflict
def _stop(
    *,
    incident_id: int,
    to: str,
    from_states: set[str],
    reasons: list[str],
    kinds: list[str],
    why: str,
):
    now = timezone.now()
    # The lock order: the incident (held already when a lifecycle change calls this), its
    # escalation, its timers, its notifications.
    lock_incident(incident_id)
    escalation = steps.locked_escalation(incident_id)
    IncidentDeadline.objects.filter(
        incident_id=incident_id, kind__in=kinds, done_at__isnull=True
    ).update(done_at=now)
    cancelled = _cancel_queued(incident_id, reasons)
    if escalation is None or escalation.state not in from_states:
        return escalation
    before = escalation.state
    at_step = f"step {escalation.step + 1} of {len(escalation.steps)}"
    escalation.state = to
    escalation.next_at = None
    escalation.finished_at = now
    escalation.version += 1
    escalation.save(update_fields=["state", "next_at", "finished_at", "version", "updated_at"])
    message = f"Escalation stopped: {why}."
    if before == EscalationState.ACTIVE:
        message = f"Escalation stopped before {at_step}: {why}."
    if cancelled:
        message += f" {cancelled} queued notification(s) cancelled."
    timeline_record(
        incident=escalation.incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message=message,
        before={"escalation": before},
        after={"escalation": to},
    )
    return escalation


def escalation_acknowledge(*, incident_id: int) -> IncidentEscalation | None:
    """Acknowledgement stops the climb and the pages not sent yet; reminders go on."""
    return _stop(
        incident_id=incident_id,
        to=EscalationState.ACKNOWLEDGED,
        from_states={EscalationState.ACTIVE, EscalationState.EXHAUSTED},
        reasons=[NotificationReason.PAGE],
        kinds=[DeadlineKind.ACKNOWLEDGE],
        why="the incident was acknowledged",
    )


def escalation_resolve(*, incident_id: int) -> IncidentEscalation | None:
    """Resolution stops everything: steps, queued pages and reminders, severity timers."""
    return _stop(
        incident_id=incident_id,
        to=EscalationState.RESOLVED,
        from_states={
            EscalationState.ACTIVE,
            EscalationState.EXHAUSTED,
            EscalationState.ACKNOWLEDGED,
        },
        reasons=[NotificationReason.PAGE, NotificationReason.DIRECT, NotificationReason.REMINDER],
        kinds=list(DeadlineKind),
        why="the incident was resolved",
    )


# --- lifecycle hooks ---------------------------------------------------------------------------


# Run inside the incident's own transaction (see incidents.core.lifecycle): the escalation row
# commits with the incident, so an accepted alert always has a timer the sweep can fire.
def _on_incident_opened(incident_id: int) -> None:
    escalation_start(incident_id=incident_id)


def _on_incidents_opened(calls: list[tuple[int]]) -> None:
    escalation_start_many(incident_ids=[incident_id for (incident_id,) in calls])


def _on_incident_status_changed(incident_id: int, before: str, after: str) -> None:
    if after == IncidentStatus.RESOLVED:
        escalation_resolve(incident_id=incident_id)
    elif before == IncidentStatus.RESOLVED:
        cadence.escalation_reopen(incident_id=incident_id)
    elif before == IncidentStatus.TRIGGERED:
        escalation_acknowledge(incident_id=incident_id)


def register_hooks() -> None:
    """Called from IncidentsConfig.ready(). Both hooks are required: an incident that cannot
    start (or stop) its escalation does not open (or move) at all."""
    hooks.register(
        hooks.INCIDENT_OPENED,
        _on_incident_opened,
        required=True,
        what="start the incident's escalation",
        many=_on_incidents_opened,
    )
    hooks.register(
        hooks.INCIDENT_STATUS_CHANGED,
        _on_incident_status_changed,
        required=True,
        what="stop or resume the incident's escalation",
    )
