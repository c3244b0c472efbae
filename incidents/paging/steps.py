"""Firing escalation steps: each step once, the incident locked first.

An ETA task carries the row's `version`; the beat sweep takes due rows in batches. Firing locks
the incident, then the escalation (incidents.core.locks), and is a compare-and-set on (id,
version, active, due), so whichever of the task and the sweep arrives second finds nothing to do.
Firing only queues notification rows; sending them is delivery's business.
"""

import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from incidents.core.choices import TimelineKind
from incidents.core.locks import is_retryable, lock_incident_of, lock_incidents, retry_on_conflict
from incidents.core.timeline import timeline_record
from incidents.models import (
    EscalationState,
    Incident,
    IncidentEscalation,
    Schedule,
    TeamChannel,
)
from incidents.oncall.compute import oncall_users
from incidents.paging import deadlines as timers
from incidents.paging import delivery as notify

logger = logging.getLogger(__name__)

VIA = "Escalation"
FIRE_TASK = "incidents.tasks.escalation_fire"


def publish_fire(escalation: IncidentEscalation) -> None:
    publish_fire_many([escalation])


def publish_fire_many(escalations: list[IncidentEscalation]) -> None:
    """Publish the step tasks of escalations on commit (one callback for them all)."""
    timers.publish_many_on_commit(
        [
            (FIRE_TASK, [escalation.pk, escalation.version], escalation.next_at)
            for escalation in escalations
            if escalation.state == EscalationState.ACTIVE and escalation.next_at is not None
        ]
    )


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
    if target["type"] == "round_robin":
        return _round_robin_person(target, lookups, notes), []
    channel = lookups.channel(target["id"])
    if channel is None:
        notes.append(f"team channel {target.get('name')} no longer exists")
        return [], []
    return [], [channel]


def _round_robin_person(target: dict, lookups: Lookups, notes: list[str]) -> list:
    """The person whose turn this incident took (incidents.paging.round_robin), or, when they
    have been deactivated since, the next active member after them."""
    members = target.get("members") or []
    if target.get("skipped"):
        notes.append(f"round robin passed over inactive {', '.join(target['skipped'])}")
    if target.get("user_id") is None:
        notes.append("nobody of the round robin is active")
        return []
    user = lookups.user(target["user_id"])
    if user is not None:
        return [user]
    ids = [m["id"] for m in members]
    start = ids.index(target["user_id"]) if target["user_id"] in ids else -1
    for offset in range(1, len(members) + 1):
        member = members[(start + offset) % len(members)]
        stand_in = lookups.user(member["id"])
        if stand_in is not None:
            notes.append(
                f"round robin: {target.get('username')} is no longer active, "
                f"{stand_in.get_username()} takes the turn"
            )
            return [stand_in]
    notes.append(f"round robin: {target.get('username')} and every other member are inactive")
    return []


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
        at=lookups.now,  # the instant it fired, from which the next step's delay counts
    )
    return len(queued)


def fire_locked(
    escalation: IncidentEscalation, now: datetime, lookups: Lookups | None = None
) -> None:
    """Fire the pending step of an active escalation whose incident and row this transaction
    holds (in that order), and schedule the next one.

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
    publish_fire(escalation)


def locked_escalation(incident_id: int, **filters) -> IncidentEscalation | None:
    """The escalation of an incident this transaction has locked, locked in its turn."""
    return (
        IncidentEscalation.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity")
        .filter(incident_id=incident_id, **filters)
        .first()
    )


@retry_on_conflict
def escalation_fire_step(
    *, escalation_id: int, expected_version: int | None = None, now: datetime | None = None
) -> bool:
    """Fire the escalation's pending step if it is still active, due and at `expected_version`.

    Returns whether it fired. Waits for the incident's lock (an acknowledgement in progress,
    say) and then finds the row as that change left it: a second call with the same version
    finds the version moved on and does nothing.
    """
    now = now or timezone.now()
    incident_id = lock_incident_of(IncidentEscalation, escalation_id)
    if incident_id is None:
        return False
    filters = {"pk": escalation_id, "state": EscalationState.ACTIVE, "next_at__lte": now}
    if expected_version is not None:
        filters["version"] = expected_version
    escalation = locked_escalation(incident_id, **filters)
    if escalation is None:
        return False
    fire_locked(escalation, now)
    return True


@retry_on_conflict
def escalation_fire_due(
    *, limit: int = 100, now: datetime | None = None, failed: set[int] | None = None
) -> int:
    """Fire up to `limit` due steps nobody else holds, in one transaction (the sweep's unit).

    The incidents are locked first (SKIP LOCKED: one being changed right now waits for the
    next batch), then their escalations. Each step runs in its own savepoint: one that fails is
    logged and left for the next sweep without holding back the others; a deadlock reruns the
    whole batch.
    """
    now = now or timezone.now()
    due = (
        Incident.objects.filter(
            escalation__state=EscalationState.ACTIVE, escalation__next_at__lte=now
        )
        .exclude(escalation__pk__in=failed or ())
        .order_by("escalation__next_at")
    )
    ids = lock_incidents(due, limit=limit)
    if not ids:
        return 0
    rows = list(
        IncidentEscalation.objects.select_for_update(of=("self",))
        .select_related("incident", "incident__severity")
        .filter(incident_id__in=ids, state=EscalationState.ACTIVE, next_at__lte=now)
        .order_by("next_at")
    )
    lookups = Lookups(now)
    for row in rows:
        try:
            with transaction.atomic():
                fire_locked(row, now, lookups)
        except Exception as error:
            if is_retryable(error):
                raise
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


def escalation_fire_due_for(*, escalation_id: int, expected_version: int, limit: int = 100) -> bool:
    """The ETA task's work: fire every due step nobody holds (its own among them) in one batch.

    Under light load that is the one step; when many fall due together, the first tasks fire
    them in batches (one transaction, shared lookups, about five times cheaper per step) and the
    later ones find nothing left. A step the batch skipped because its incident was locked is
    fired on its own, once that lock is released. Returns whether the task's own step is no
    longer pending.
    """
    escalation_fire_due(limit=limit)
    due_at = escalation_pending(escalation_id, expected_version)
    if due_at is not None and due_at <= timezone.now():
        escalation_fire_step(escalation_id=escalation_id, expected_version=expected_version)
    return escalation_pending(escalation_id, expected_version) is None
