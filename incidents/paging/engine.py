"""Escalation: who gets paged for an incident, in which order, and when (issue #5).

When an incident opens, its policy (severity route, else its service's policy) is copied onto an
`IncidentEscalation` row. Each step fires once: an ETA task carries the row's `version`, the beat
sweep takes due rows with `SELECT … FOR UPDATE SKIP LOCKED`, and firing is a compare-and-set on
(id, version, active, due), so whichever arrives second finds nothing to do. Acknowledging stops
the climb, resolving stops everything. The severity timers (acknowledge target, update cadence)
are `IncidentDeadline` rows fired the same way.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents.core import hooks
from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.errors import DomainError, IllegalTransition
from incidents.core.texts import humanize_duration
from incidents.core.timeline import timeline_record
from incidents.models import (
    DeadlineKind,
    EscalationPolicy,
    EscalationState,
    Incident,
    IncidentDeadline,
    IncidentEscalation,
    Notification,
    NotificationReason,
    NotificationStatus,
    Schedule,
    SeverityRoute,
    StatusUpdate,
    TargetType,
    TeamChannel,
)
from incidents.oncall.compute import oncall_users
from incidents.paging import deadlines as timers
from incidents.paging import delivery as notify

logger = logging.getLogger(__name__)

VIA = "Escalation"
FIRE_TASK = "incidents.tasks.escalation_fire"
DEADLINE_TASK = "incidents.tasks.escalation_deadline"


# --- choosing and copying the policy -----------------------------------------------------------


def policy_for(incident: Incident) -> EscalationPolicy | None:
    """The most specific policy: a route for (service, severity), then for (any service,
    severity), then the first of the incident's services (by name) that has a policy, and
    last, for a severity that pages, the default policy."""
    services = list(incident.services.select_related("escalation_policy").order_by("name"))
    routes = list(
        SeverityRoute.objects.filter(severity_id=incident.severity_id)
        .filter(Q(service__in=services) | Q(service__isnull=True))
        .select_related("policy")
    )
    for service in services:
        for route in routes:
            if route.service_id == service.pk:
                return route.policy
    for route in routes:
        if route.service_id is None:
            return route.policy
    for service in services:
        if service.escalation_policy is not None:
            return service.escalation_policy
    if incident.severity.pages:
        # Nothing names a policy for this incident: a paging one still pages someone.
        return EscalationPolicy.objects.filter(is_default=True).first()
    return None


def policy_snapshot(policy: EscalationPolicy) -> dict:
    """The policy as plain JSON: what a running escalation follows, whatever edits come later."""
    steps = []
    for step in policy.steps.prefetch_related(
        "targets__schedule", "targets__user", "targets__channel"
    ):
        targets = []
        for target in step.targets.all():
            if target.type == TargetType.SCHEDULE:
                targets.append(
                    {"type": "schedule", "id": target.schedule_id, "name": target.schedule.name}
                )
            elif target.type == TargetType.USER:
                targets.append(
                    {"type": "user", "id": target.user_id, "username": target.user.get_username()}
                )
            else:
                targets.append(
                    {"type": "channel", "id": target.channel_id, "name": target.channel.name}
                )
        steps.append({"delay": step.delay.total_seconds(), "targets": targets})
    return {
        "policy": policy.pk,
        "name": policy.name,
        "repeat": policy.repeat,
        "repeat_delay": policy.repeat_delay.total_seconds(),
        "steps": steps,
    }


# --- starting ----------------------------------------------------------------------------------


def _publish_fire(escalation: IncidentEscalation) -> None:
    if escalation.state == EscalationState.ACTIVE and escalation.next_at is not None:
        timers.publish_on_commit(FIRE_TASK, [escalation.pk, escalation.version], escalation.next_at)


def _publish_deadline(deadline: IncidentDeadline) -> None:
    if deadline.done_at is None:
        timers.publish_on_commit(DEADLINE_TASK, [deadline.pk, deadline.version], deadline.due_at)


def _start_deadlines(incident: Incident) -> None:
    severity = incident.severity
    wanted = []
    if incident.status == IncidentStatus.TRIGGERED:
        wanted.append(
            (DeadlineKind.ACKNOWLEDGE, incident.detected_at + severity.acknowledge_within)
        )
    if severity.update_every:
        wanted.append((DeadlineKind.UPDATE, incident.detected_at + severity.update_every))
    for kind, due_at in wanted:
        deadline, created = IncidentDeadline.objects.get_or_create(
            incident=incident, kind=kind, defaults={"due_at": due_at}
        )
        if created:
            _publish_deadline(deadline)


@transaction.atomic
def escalation_start(*, incident_id: int, now: datetime | None = None) -> IncidentEscalation | None:
    """Copy the incident's policy onto it and schedule step 1. Safe to call twice.

    The escalation clock starts at detection (for an incident opened now, that is now).
    """
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("severity")
        .filter(pk=incident_id)
        .first()
    )
    if incident is None or not incident.is_open:
        return None
    now = now or incident.detected_at
    existing = IncidentEscalation.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    _start_deadlines(incident)
    if incident.status != IncidentStatus.TRIGGERED:
        return None
    policy = policy_for(incident)
    snapshot = policy_snapshot(policy) if policy is not None else None
    if not snapshot or not snapshot["steps"]:
        timeline_record(
            incident=incident,
            kind=TimelineKind.ESCALATION,
            via=VIA,
            message="No escalation policy applies (none for the severity or the services): nobody is paged.",
        )
        return None
    if not incident.severity.pages:
        # "Notify only" severities tell the first step once and never climb.
        snapshot = {**snapshot, "steps": snapshot["steps"][:1], "repeat": 0}
    first = timedelta(seconds=snapshot["steps"][0]["delay"])
    escalation = IncidentEscalation.objects.create(
        incident=incident,
        policy=policy,
        policy_name=policy.name,
        snapshot=snapshot,
        next_at=now + first,
        started_at=now,
    )
    when = "now" if not first else f"in {humanize_duration(first)}"
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message=f"Escalation started with policy {policy.name}: step 1 of {len(snapshot['steps'])} pages {when}.",
        after={"policy": policy.pk, "next_at": escalation.next_at.isoformat()},
    )
    _publish_fire(escalation)
    return escalation


# --- firing steps ------------------------------------------------------------------------------


class Lookups:
    """What firing needs besides the row, remembered for a batch of steps fired at one instant
    (the sweep fires many at once; a lone step uses a fresh one)."""

    def __init__(self, now: datetime):
        self.now = now
        self.oncall: dict[int, tuple[str, list] | None] = {}
        self.users: dict[int, object] = {}
        self.channels: dict[int, TeamChannel | None] = {}
        self.routes: dict[int, list] = {}

    def schedule(self, schedule_id: int):
        if schedule_id not in self.oncall:
            schedule = Schedule.objects.filter(pk=schedule_id).first()
            self.oncall[schedule_id] = (
                (schedule.name, oncall_users(schedule, self.now)) if schedule else None
            )
        return self.oncall[schedule_id]

    def user(self, user_id: int):
        if user_id not in self.users:
            self.users[user_id] = (
                get_user_model().objects.filter(pk=user_id, is_active=True).first()
            )
        return self.users[user_id]

    def channel(self, channel_id: int):
        if channel_id not in self.channels:
            self.channels[channel_id] = TeamChannel.objects.filter(pk=channel_id).first()
        return self.channels[channel_id]


def _target_people(target: dict, lookups: Lookups, notes: list[str]):
    """(users, channels) a snapshot target stands for at `lookups.now`."""
    if target["type"] == "schedule":
        found = lookups.schedule(target["id"])
        if found is None:
            notes.append(f"schedule {target.get('name')} no longer exists")
            return [], []
        name, users = found
        if not users:
            notes.append(f"nobody on call for {name}")
        return users, []
    if target["type"] == "user":
        user = lookups.user(target["id"])
        if user is None:
            notes.append(f"user {target.get('username')} is no longer active")
            return [], []
        return [user], []
    channel = lookups.channel(target["id"])
    if channel is None:
        notes.append(f"team channel {target.get('name')} no longer exists")
        return [], []
    return [], [channel]


def _page_step(escalation: IncidentEscalation, index: int, rnd: int, lookups: Lookups) -> int:
    """Queue the notifications of one step; returns how many were queued."""
    incident = escalation.incident
    step = escalation.steps[index]
    notes: list[str] = []
    users: dict[int, object] = {}
    channels: dict[int, TeamChannel] = {}
    for target in step["targets"]:
        found_users, found_channels = _target_people(target, lookups, notes)
        for user in found_users:
            users.setdefault(user.pk, user)
        for channel in found_channels:
            channels.setdefault(channel.pk, channel)
    queued = notify.page(
        incident=incident,
        users=users.values(),
        channels=channels.values(),
        rnd=rnd,
        step=index,
        now=lookups.now,
        cache=lookups.routes,
    )
    names = sorted({n.recipient for n in queued})
    label = f"Step {index + 1} of {len(escalation.steps)}" + (f" (round {rnd + 1})" if rnd else "")
    without = [u for u in users.values() if not any(n.user_id == u.pk for n in queued)]
    if without:
        notes.append("no contact method for " + ", ".join(u.get_username() for u in without))
    message = f"{label} paged {', '.join(names)}." if names else f"{label} paged nobody."
    if notes:
        detail = "; ".join(notes)
        message += f" {detail[:1].upper()}{detail[1:]}."
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message=message,
        after={"step": index + 1, "round": rnd + 1, "paged": names},
    )
    return len(queued)


def _fire(escalation: IncidentEscalation, now: datetime, lookups: Lookups | None = None) -> None:
    """Fire the pending step of a locked, active escalation and schedule the next one.

    A step that pages nobody (nobody on call, no contact method) hands over to the next step at
    once instead of waiting out its delay; a new round still waits its repeat delay.
    """
    steps = escalation.steps
    lookups = lookups or Lookups(now)
    for _ in range(len(steps)):
        index, rnd = escalation.step, escalation.round
        paged = _page_step(escalation, index, rnd, lookups)
        escalation.last_fired_at = now
        following, next_round = index + 1, rnd
        if following >= len(steps):
            following, next_round = 0, rnd + 1
        if next_round >= escalation.rounds:
            escalation.state = EscalationState.EXHAUSTED
            escalation.next_at = None
            escalation.finished_at = now
            timeline_record(
                incident=escalation.incident,
                kind=TimelineKind.ESCALATION,
                via=VIA,
                message=f"Escalation exhausted after {escalation.rounds} round(s): every step has paged.",
            )
            break
        escalation.step, escalation.round = following, next_round
        if following == 0:
            escalation.next_at = now + timedelta(
                seconds=escalation.snapshot.get("repeat_delay", 300)
            )
            break
        if paged:
            escalation.next_at = now + timedelta(seconds=steps[following]["delay"])
            break
        escalation.next_at = now
    escalation.version += 1
    escalation.save(
        update_fields=[
            "step",
            "round",
            "state",
            "next_at",
            "finished_at",
            "last_fired_at",
            "version",
            "updated_at",
        ]
    )
    _publish_fire(escalation)


def _locked_escalation(**filters) -> IncidentEscalation | None:
    return (
        IncidentEscalation.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("incident", "incident__severity")
        .filter(**filters)
        .first()
    )


def escalation_fire_due_for(*, escalation_id: int, expected_version: int, limit: int = 100) -> bool:
    """The ETA task's work: fire every due step nobody holds (its own among them) in one batch.

    Under light load that is the one step; when many fall due together, the first tasks fire
    them in batches (one transaction, shared lookups, about five times cheaper per step) and the
    later ones find nothing left. Returns whether the task's own step is no longer pending.
    """
    escalation_fire_due(limit=limit)
    return escalation_pending(escalation_id, expected_version) is None


def escalation_fire_step(
    *, escalation_id: int, expected_version: int | None = None, now: datetime | None = None
) -> bool:
    """Fire the escalation's pending step if it is still active, due and at `expected_version`.

    Returns whether it fired. A second call with the same version finds the version moved on
    (or the row locked by the first) and does nothing.
    """
    now = now or timezone.now()
    filters = {"pk": escalation_id, "state": EscalationState.ACTIVE, "next_at__lte": now}
    if expected_version is not None:
        filters["version"] = expected_version
    with transaction.atomic():
        escalation = _locked_escalation(**filters)
        if escalation is None:
            return False
        _fire(escalation, now)
        return True


def escalation_fire_due(
    *, limit: int = 100, now: datetime | None = None, failed: set[int] | None = None
) -> int:
    """Fire up to `limit` due steps nobody else holds, in one transaction (the sweep's unit).

    Each step runs in its own savepoint: one that fails is logged and left for the next sweep
    without holding back the others.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            IncidentEscalation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident", "incident__severity")
            .filter(state=EscalationState.ACTIVE, next_at__lte=now)
            .exclude(pk__in=failed or ())
            .order_by("next_at")[:limit]
        )
        lookups = Lookups(now)
        for row in rows:
            try:
                with transaction.atomic():
                    _fire(row, now, lookups)
            except Exception:
                logger.exception("Could not fire escalation %s", row.pk)
                if failed is not None:
                    failed.add(row.pk)
    return len(rows)


def escalation_pending(escalation_id: int, version: int) -> datetime | None:
    """When the escalation at `version` is next due (None when it is not active at it)."""
    return (
        IncidentEscalation.objects.filter(
            pk=escalation_id, version=version, state=EscalationState.ACTIVE
        )
        .values_list("next_at", flat=True)
        .first()
    )


def _escalation_of(incident_id: int) -> IncidentEscalation | None:
    return (
        IncidentEscalation.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity")
        .filter(incident_id=incident_id)
        .first()
    )


def escalation_escalate_now(
    *, incident: Incident, actor=None, via: str | None = None
) -> IncidentEscalation:
    """Fire the pending step at once ("Escalate now" in the admin and the API).

    An incident that nothing covered when it opened starts escalating now if a policy covers it
    since (the default policy, say); one whose escalation is exhausted while still triggered
    pages its last step again.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = _escalation_of(incident.pk)
        if locked is None and escalation_start(incident_id=incident.pk, now=now) is not None:
            locked = _escalation_of(incident.pk)
        escalation = locked
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
        _fire(escalation, now)
        return escalation


# --- stopping ----------------------------------------------------------------------------------


def _cancel_queued(incident_id: int, reasons: Iterable[str]) -> int:
    return Notification.objects.filter(
        incident_id=incident_id, status=NotificationStatus.QUEUED, reason__in=list(reasons)
    ).update(status=NotificationStatus.CANCELLED, updated_at=timezone.now())


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
    with transaction.atomic():
        escalation = (
            IncidentEscalation.objects.select_for_update(of=("self",))
            .select_related("incident")
            .filter(incident_id=incident_id)
            .first()
        )
        cancelled = _cancel_queued(incident_id, reasons)
        IncidentDeadline.objects.filter(
            incident_id=incident_id, kind__in=kinds, done_at__isnull=True
        ).update(done_at=now)
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


def escalation_reopen(*, incident_id: int, now: datetime | None = None) -> None:
    """A reopened incident is being worked again: its status-update cadence resumes from now.

    Paging does not restart: reopening lands in investigating, which is acknowledged already.
    """
    now = now or timezone.now()
    incident = Incident.objects.select_related("severity").get(pk=incident_id)
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
    _publish_deadline(deadline)


# --- severity timers ---------------------------------------------------------------------------


def _acknowledge_breached(deadline: IncidentDeadline, now: datetime) -> None:
    deadline.done_at = now
    incident = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("severity")
        .get(pk=deadline.incident_id)
    )
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
    escalation = (
        IncidentEscalation.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity")
        .filter(incident=incident, state=EscalationState.ACTIVE)
        .first()
    )
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message=f"Acknowledge target missed ({incident.severity.key}: {target}): "
        + ("escalating now." if escalation else "no escalation left to climb."),
        after={"acknowledge_breached_at": now.isoformat()},
    )
    if escalation is not None:
        _fire(escalation, now)


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


def escalation_fire_deadline(
    *, deadline_id: int, expected_version: int | None = None, now: datetime | None = None
) -> bool:
    """Fire a due severity timer once (compare-and-set on its version, like steps)."""
    now = now or timezone.now()
    filters = {"pk": deadline_id, "done_at__isnull": True, "due_at__lte": now}
    if expected_version is not None:
        filters["version"] = expected_version
    with transaction.atomic():
        deadline = (
            IncidentDeadline.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident", "incident__severity", "incident__commander")
            .filter(**filters)
            .first()
        )
        if deadline is None:
            return False
        if deadline.kind == DeadlineKind.ACKNOWLEDGE:
            _acknowledge_breached(deadline, now)
        else:
            _update_due(deadline, now)
        deadline.version += 1
        deadline.save(update_fields=["due_at", "done_at", "fired_count", "version"])
        _publish_deadline(deadline)
        return True


def deadline_pending(deadline_id: int, version: int) -> datetime | None:
    return (
        IncidentDeadline.objects.filter(pk=deadline_id, version=version, done_at__isnull=True)
        .values_list("due_at", flat=True)
        .first()
    )


# --- the sweep ---------------------------------------------------------------------------------


def escalation_fire_due_deadlines(*, limit: int = 20, failed: set[int] | None = None) -> int:
    """Fire up to `limit` due severity timers nobody else holds (SKIP LOCKED), each once."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            IncidentDeadline.objects.select_for_update(skip_locked=True)
            .filter(done_at__isnull=True, due_at__lte=now)
            .exclude(pk__in=failed or ())
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in ids:
            try:
                escalation_fire_deadline(deadline_id=pk, now=now)
            except Exception:
                logger.exception("Could not fire deadline %s", pk)
                if failed is not None:
                    failed.add(pk)
    return len(ids)


def escalation_sweep(*, budget_seconds: float = 20.0, grace_seconds: float = 2.0) -> dict[str, int]:
    """Fire every due step and severity timer, and hand the notifications whose task is late
    to the delivery queue, whatever happened to their tasks.

    Rows are taken with `SELECT … FOR UPDATE SKIP LOCKED`, so sweeps on several workers and the
    ETA tasks share the work without waiting on each other or doing anything twice. The sweep
    never sends a notification itself, so a slow webhook never holds it (or a page) back.
    Notifications are only swept once `grace_seconds` late: until then their own task is on
    its way.
    """
    stop_at = timezone.now() + timedelta(seconds=budget_seconds)
    counts = {"steps": 0, "deadlines": 0, "notifications": 0}
    failed_steps: set[int] = set()
    failed_deadlines: set[int] = set()
    while timezone.now() < stop_at:
        steps = escalation_fire_due(limit=100, failed=failed_steps)
        deadlines = escalation_fire_due_deadlines(limit=20, failed=failed_deadlines)
        # Late notifications go to the delivery queue, once per sweep: the sweep never sends.
        late = timezone.now() - timedelta(seconds=grace_seconds)
        sent = 0 if counts["notifications"] else notify.notification_sweep(late)
        counts["steps"] += steps
        counts["deadlines"] += deadlines
        counts["notifications"] += sent
        if not (steps or deadlines or sent):
            break
    return counts


# --- lifecycle hooks ---------------------------------------------------------------------------


# Run inside the incident's own transaction (see incidents.core.lifecycle): the escalation row
# commits with the incident, so an accepted alert always has a timer the sweep can fire.
def _on_incident_opened(incident_id: int) -> None:
    escalation_start(incident_id=incident_id)


def _on_incident_status_changed(incident_id: int, before: str, after: str) -> None:
    if after == IncidentStatus.RESOLVED:
        escalation_resolve(incident_id=incident_id)
    elif before == IncidentStatus.RESOLVED:
        escalation_reopen(incident_id=incident_id)
    elif before == IncidentStatus.TRIGGERED:
        escalation_acknowledge(incident_id=incident_id)


def register_hooks() -> None:
    """Called from IncidentsConfig.ready(). Both hooks are required: an incident that cannot
    start (or stop) its escalation does not open (or move) at all."""
    hooks.register(hooks.INCIDENT_OPENED, _on_incident_opened, required=True)
    hooks.register(hooks.INCIDENT_STATUS_CHANGED, _on_incident_status_changed, required=True)
